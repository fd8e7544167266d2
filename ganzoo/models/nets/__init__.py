"""Network builders shared by several variants (U-Net, ResNet, PatchGAN, SRResNet, VGG-style D)."""
