"""Mode collapse: the diversity of fixed-seed samples against the real data's (and modes of 2-D mixtures)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ganzoo.data import datasets as data_lib
from ganzoo.evaluation.metrics import mode_statistics
from ganzoo.training.diagnostics.failures import effective_modes, fmt, mean_pairwise_distance


class ModeCollapseChecks:
    """Mode collapse: the diversity of fixed-seed samples against the real data's (and modes of 2-D mixtures). (a part of :class:`GANMonitor`, which holds the state)."""

    @staticmethod
    def _parse_modes(modes):
        if modes is None:
            return None, None
        if isinstance(modes, str):
            centres, std = data_lib.mixture_modes(modes)
            return np.asarray(centres, np.float64), float(std)
        centres, std = modes
        return np.asarray(centres, np.float64), float(std)

    def _collect_reference(self, reference) -> np.ndarray:
        if hasattr(reference, "as_numpy_iterator"):  # a tf.data.Dataset
            parts, total = [], 0
            for element in reference.as_numpy_iterator():
                batch = element[0] if isinstance(element, (tuple, list)) else element
                parts.append(np.asarray(batch))
                total += len(parts[-1])
                if total >= self.n_samples:
                    break
            reference = np.concatenate(parts)
        reference = np.asarray(reference, dtype=np.float32)
        if len(reference) > self.n_samples:
            index = np.random.default_rng(self.seed).choice(len(reference), self.n_samples, replace=False)
            reference = reference[np.sort(index)]
        if len(reference) < 2:
            raise ValueError("reference must hold at least 2 samples.")
        return reference

    def _generate(self) -> np.ndarray:
        model = self.model
        labels = self.labels
        if labels is None and getattr(model, "is_conditional", False):
            labels = np.arange(self.n_samples, dtype=np.int32) % model.num_classes
        return np.asarray(model.generate(self.n_samples, seed=self.seed, labels=labels, raw=True))

    def measure_diversity(self) -> dict[str, Any]:
        """Diversity statistics of the current generator (also usable outside ``fit``)."""
        samples = self._generate()
        record: dict[str, Any] = {"epoch": self.epoch + 1, "step": self.step}
        if not np.isfinite(samples).all():
            record["diversity"] = float("nan")
            return record
        feats = np.asarray(self.features(samples)) if self.features is not None else samples
        diversity = mean_pairwise_distance(feats)
        record["diversity"] = diversity
        if self.reference_diversity is not None:
            record["reference_diversity"] = self.reference_diversity
            record["ratio"] = diversity / self.reference_diversity if self.reference_diversity > 0 else float("nan")
        else:
            peak = max(self._peak_diversity, diversity)
            record["peak_diversity"] = peak
            record["ratio"] = diversity / peak if peak > 0 else float("nan")
        if self.modes is not None and samples.ndim == 2 and samples.shape[1] == self.modes.shape[1]:
            min_count = max(1, math.ceil(20 * len(samples) / 2500))  # PacGAN's 20 per 2,500, scaled
            stats = mode_statistics(samples, self.modes, self.mode_std, min_count=min_count)
            record.update(
                effective_modes=effective_modes(samples, self.modes),
                num_modes=stats["num_modes"],
                modes_covered=stats["modes_covered"],
                high_quality_fraction=stats["high_quality_fraction"],
                mode_counts=stats["mode_counts"],
            )
        return record

    def _ema_warming_up(self) -> bool:
        """Whether the samples come from an EMA generator that still holds mostly its initial weights.

        ``generate`` samples the EMA generator; with a constant decay (no ``ema_rampup``) it needs about
        1 / (1 - decay) steps (1,000 at 0.999) to forget its initialization, and its samples look
        collapsed until then whatever the live generator does.
        """
        decay = getattr(self.model, "ema_decay", None)
        return bool(decay) and getattr(self.model, "ema_rampup", None) is None and self.step < 1.0 / (1.0 - decay)

    def _check_diversity(self) -> None:
        if self.model is None or self.step < self.warmup_steps or self._ema_warming_up():
            return
        record = self.measure_diversity()
        self.diversity_history.append(record)
        diversity = record["diversity"]
        if not math.isfinite(diversity):
            return  # a non-finite generator is reported as divergence
        self._peak_diversity = max(self._peak_diversity, diversity)
        reasons = []
        against = "the real data's" if self.reference_diversity is not None else "its own peak"
        if record["ratio"] < self.collapse_ratio:
            reasons.append(
                f"sample diversity {fmt(diversity)} is {fmt(record['ratio'])}x {against} "
                f"({fmt(record.get('reference_diversity', record.get('peak_diversity')))}, "
                f"threshold {fmt(self.collapse_ratio)}x)"
            )
        if (
            "effective_modes" in record
            and record["effective_modes"] <= self.collapse_modes_fraction * record["num_modes"]
        ):
            reasons.append(
                f"the samples concentrate on {fmt(record['effective_modes'])} effective modes of "
                f"{record['num_modes']} ({record['modes_covered']} covered with high quality)"
            )
        recent = [r for r in self.diversity_history[-self.collapse_patience :]]
        evidence = {
            "diversity": record,
            "history": [{k: r.get(k) for k in ("step", "diversity", "ratio", "effective_modes")} for r in recent],
        }
        message = f"mode collapse: {'; '.join(reasons)}, for {self.collapse_patience} consecutive checks."
        self._judge("mode_collapse", bool(reasons), evidence, message, patience=self.collapse_patience)
