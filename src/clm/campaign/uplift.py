"""An uplift model learned from the randomised pilot: a T-learner over XGBoost.

Why a T-learner: the pilot's arms are randomised within value tier x risk decile, and both
are large (the control share of the base against the contacts the channel allows), so one
model per arm learns each arm's churn directly. An S-learner (one model, treatment as a
feature) lets trees ignore the treatment flag and shrinks effects towards zero; an X-learner
pays a second stage of models for arms of very different sizes, which the pilot does not
have; causalml and econml would add heavy dependencies for the same estimate. The treated
arm's model takes the measure as a feature, so one model serves every measure the pilot
tried; a measure it never tried keeps the prior effect table's estimate.

Features are the plan's own columns (churn probability, ARPU, value tier, stage, top reason
category), so next month's candidates carry them without rebuilding anything. Each arm starts
from what the operator already believes and learns only how the pilot departs from it: the
control arm from the churn score, the treated arm from the churn score less the prior effect
table's cut (the logit of each is the arm's base margin). A pilot is as small as one month's
channel allows (a few hundred treated customers); boosting from zero, the treated arm learned
effects of the right size nowhere and the plan it drove kept a seventh of the prior plan's
value (benchmarks/campaign_policies.py). Anchored at the prior, each arm keeps only the
boosting rounds that cross-validation says beat its anchor out of fold by more than a standard
error: a pilot too small to tell keeps the prior's estimate, and its evidence moves it as far
as it supports. Without the
control arm's offset its trees shrink towards their own arm's churn rate, and the arms' rates
differ by design (the plan treats the riskiest, the control spans every decile): on the
synthetic operator the control model then under-predicted the risky customers' churn and the
estimated cuts came out negative where the true ones were positive.

A better fit per arm is not yet a better plan, so the next plan uses the learned cuts only
where the pilot, judging the model out of fold, says their decisions keep more value than
the prior's (``clm.campaign.policy_check``); otherwise ``UpliftModel`` answers with the prior.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import xgboost as xgb

from clm.campaign.candidates import EffectModel, PriorEffects
from clm.campaign.config import CampaignConfig, CampaignError, UpliftParams
from clm.campaign.policy_check import PolicyCheck, cross_fit
from clm.domain.taxonomy import Taxonomy

NUMERIC = ("churn_probability", "arpu_mean_3m")
SCORE_CLIP = 1e-4  # churn scores of exactly 0 or 1 would give an infinite base margin
MIN_ARM_ROWS = 30  # fewer customers in an arm teach the model nothing worth planning on
CV_FOLDS = 5  # folds that choose each arm's boosting rounds, and cross-fit the policy check
CV_PATIENCE_ROUNDS = 10  # rounds without an out-of-fold gain before cross-validation stops


@dataclass(frozen=True)
class ArmModels:
    """Churn models of the control and treated arms; the cut is their difference."""

    control: xgb.Booster
    treated: xgb.Booster
    measures: tuple[str, ...]  # the measures the pilot tried, in the treated model's order
    vocabularies: dict[str, tuple[str, ...]]
    fallback: EffectModel

    def churn_reduction(self, candidates: pl.DataFrame) -> pl.Series:
        """Control-arm churn minus treated-arm churn per candidate; the prior where the pilot
        never tried the measure."""
        prior = self.fallback.churn_reduction(candidates)
        if candidates.is_empty():  # XGBoost warns on an empty matrix
            return prior
        base = _features(candidates, self.vocabularies)
        without = self.control.predict(
            xgb.DMatrix(base, base_margin=_margin(candidates, reduction=0.0))
        )
        with_measure = self.treated.predict(
            xgb.DMatrix(
                np.hstack([base, _one_hot(candidates["measure_code"], self.measures)]),
                base_margin=_margin(candidates, reduction=prior.to_numpy()),
            )
        )
        tried = candidates["measure_code"].is_in(list(self.measures)).to_numpy()
        return pl.Series(
            "churn_reduction", np.where(tried, without - with_measure, prior.to_numpy())
        )


@dataclass(frozen=True)
class UpliftModel:
    """The T-learners of the pilot's folds and the pilot's verdict on them: their mean cut
    where the out-of-fold check kept it, the prior's everywhere otherwise."""

    folds: tuple[ArmModels, ...]  # each fitted on the pilot less one fold, judged on that fold
    check: PolicyCheck
    fallback: EffectModel

    def churn_reduction(self, candidates: pl.DataFrame) -> pl.Series:
        if not self.check.keep_learned:
            return self.fallback.churn_reduction(candidates)
        return self.learned_reduction(candidates)

    def learned_reduction(self, candidates: pl.DataFrame) -> pl.Series:
        """The folds' mean cut per candidate, whatever the verdict."""
        cuts = [fold.churn_reduction(candidates).to_numpy() for fold in self.folds]
        return pl.Series("churn_reduction", np.mean(cuts, axis=0), dtype=pl.Float64)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for k, fold in enumerate(self.folds):
            fold.control.save_model(folder / f"control_{k}.json")
            fold.treated.save_model(folder / f"treated_{k}.json")
        meta = {
            "measures": [list(fold.measures) for fold in self.folds],
            "vocabularies": self.folds[0].vocabularies,
            "check": dataclasses.asdict(self.check),
        }
        (folder / "uplift.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def vocabularies(taxonomy: Taxonomy) -> dict[str, tuple[str, ...]]:
    """The categorical features' fixed vocabularies, so columns never depend on the data."""
    return {
        "value_tier": tuple(taxonomy.value_tiers),
        "stage": tuple(taxonomy.stages),
        "reason_1_category": tuple(taxonomy.categories),
    }


def fit_uplift(pilot: pl.DataFrame, config: CampaignConfig, taxonomy: Taxonomy) -> UpliftModel:
    """Fit both arms on each fold's complement of ``pilot`` (plan rows with ``arm``,
    ``measure_code``, ``control_measure_code`` and ``churned``), and check on the held-out
    folds whether their decisions beat the prior effect table's (``clm.campaign.policy_check``).

    The plan uses the mean of exactly the models the check judged, not a refit on the whole
    pilot whose boosting rounds nobody judged; the average of five fits is also steadier
    than any one fit on a small pilot."""
    control = pilot.filter(arm="control")
    treated = pilot.filter(arm="treatment")
    if control.height < MIN_ARM_ROWS or treated.height < MIN_ARM_ROWS:
        raise CampaignError(
            f"pilot too small to learn uplift: {treated.height} treated and {control.height} "
            f"control customers, at least {MIN_ARM_ROWS} each needed"
        )
    prior = PriorEffects(config)
    learn = functools.partial(_fit_arms, config=config, taxonomy=taxonomy, prior=prior)
    check, folds = cross_fit(pilot, learn, prior, config, taxonomy, CV_FOLDS)
    return UpliftModel(tuple(folds), check, prior)


def _fit_arms(
    pilot: pl.DataFrame, config: CampaignConfig, taxonomy: Taxonomy, prior: PriorEffects
) -> ArmModels:
    """The T-learner on ``pilot``. The control arm is every control customer: randomised, so
    all of them teach it. The treated arm starts from ``prior``'s cut, which the pilot
    revises."""
    control = pilot.filter(arm="control")
    treated = pilot.filter(arm="treatment")
    vocab = vocabularies(taxonomy)
    measures = tuple(sorted(treated["measure_code"].unique()))
    treated_x = np.hstack([_features(treated, vocab), _one_hot(treated["measure_code"], measures)])
    cut = prior.churn_reduction(treated).to_numpy()
    params, seed = config.uplift, config.seed
    return ArmModels(
        control=_train(_features(control, vocab), control, _margin(control, 0.0), params, seed),
        treated=_train(treated_x, treated, _margin(treated, cut), params, seed),
        measures=measures,
        vocabularies=vocab,
        fallback=prior,
    )


def load_uplift(folder: Path, fallback: EffectModel) -> UpliftModel:
    """The model ``UpliftModel.save`` wrote; CampaignError naming a missing file."""
    meta_path = folder / "uplift.json"
    if not meta_path.is_file():
        raise CampaignError(f"uplift model: {meta_path} not found; run clm campaign measure")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    vocab = {key: tuple(values) for key, values in meta["vocabularies"].items()}
    folds = []
    for k, measures in enumerate(meta["measures"]):
        control, treated = xgb.Booster(), xgb.Booster()
        control.load_model(folder / f"control_{k}.json")
        treated.load_model(folder / f"treated_{k}.json")
        folds.append(ArmModels(control, treated, tuple(measures), vocab, fallback))
    return UpliftModel(tuple(folds), PolicyCheck(**meta["check"]), fallback)


def _train(
    x: np.ndarray, arm: pl.DataFrame, margin: np.ndarray, params: UpliftParams, seed: int
) -> xgb.Booster:
    """One arm's churn model on ``x``, boosted from ``margin`` for the rounds ``_rounds_by_cv``
    chooses: none when the pilot's evidence does not clearly improve on the prior out of fold,
    so noise does not move the plan."""
    config = {
        "objective": "binary:logistic",
        "max_depth": params.max_depth,
        "eta": params.learning_rate,
        "min_child_weight": params.min_child_weight,
        "lambda": params.reg_lambda,
        "seed": seed,
        "nthread": 1,
    }
    label = arm["churned"].cast(pl.Float64).to_numpy()
    data = xgb.DMatrix(x, label=label, base_margin=margin)
    return xgb.train(config, data, num_boost_round=_rounds_by_cv(config, data, params, seed))


def _rounds_by_cv(config: dict, data: xgb.DMatrix, params: UpliftParams, seed: int) -> int:
    """The fewest boosting rounds whose out-of-fold log loss is within one standard error of
    the best (Breiman's one-standard-error rule), 0 when the base margin's own log loss is.

    The plain minimum over a few hundred noisy fold means is biased low: on a small pilot it
    kept rounds that fitted noise and moved the plan away from a prior that was right."""
    history = xgb.cv(
        {**config, "eval_metric": "logloss"},
        data,
        num_boost_round=params.n_estimators,
        nfold=CV_FOLDS,
        early_stopping_rounds=CV_PATIENCE_ROUNDS,
        seed=seed,
        as_pandas=False,
    )
    out_of_fold = np.asarray(history["test-logloss-mean"])
    best = int(np.argmin(out_of_fold))
    tolerance = out_of_fold[best] + history["test-logloss-std"][best] / np.sqrt(CV_FOLDS)
    if _log_loss(data) <= tolerance:
        return 0
    return int(np.argmax(out_of_fold <= tolerance)) + 1


def _log_loss(data: xgb.DMatrix) -> float:
    """Log loss of the base margin alone: the prior's fit to the arm's outcomes."""
    probability = 1 / (1 + np.exp(-data.get_base_margin()))
    label = data.get_label()
    return float(-np.mean(label * np.log(probability) + (1 - label) * np.log(1 - probability)))


def _margin(frame: pl.DataFrame, reduction: np.ndarray | float) -> np.ndarray:
    """The logit of each row's churn score less ``reduction``, clipped away from 0 and 1 so
    it stays finite."""
    probability = frame["churn_probability"].to_numpy() - reduction
    probability = np.clip(probability, SCORE_CLIP, 1 - SCORE_CLIP)
    return np.log(probability / (1 - probability))


def _features(frame: pl.DataFrame, vocab: dict[str, tuple[str, ...]]) -> np.ndarray:
    numeric = frame.select(NUMERIC).to_numpy().astype(np.float64)
    return np.hstack(
        [numeric, *(_one_hot(frame[column], codes) for column, codes in vocab.items())]
    )


def _one_hot(values: pl.Series, codes: tuple[str, ...]) -> np.ndarray:
    as_array = values.to_numpy()
    return np.stack([as_array == code for code in codes], axis=1).astype(np.float64)
