"""Training objectives: adversarial losses, gradient penalties, augmentation of D's inputs, schedules."""
