"""Pure-PyTorch landscape core: interpolation, evaluation, barriers, curvature, geometry.

No Lightning, no Hydra. Functions never mutate a live model (weights, buffers, mode, ``.grad``)
and never draw from the global RNG. Definitions: docs/design.md §2–§5. Public verbs take the
model (or an :class:`Evaluator`, which holds model and data) first, then parameter sets, then
data and options. Topics, and the modules that hold their helpers:

- parameter sets: ``state_of``, ``lerp``, ``lerp_groups``, ``delta``, ``distance``, ``norm``,
  ``layer_groups``, ``param_names`` (:mod:`~ridgeline.landscape.params`); coarser layers
  (per transformer sub-layer or block): :mod:`~ridgeline.landscape.grouping`
- evaluation: ``Evaluator``, ``PathTuning``, ``Metrics``, ``Endpoints``
  (:mod:`~ridgeline.landscape.evaluate`, :mod:`~ridgeline.landscape.eval_path`,
  :mod:`~ridgeline.landscape.sums`, :mod:`~ridgeline.landscape.groups`)
- normalization (BN reset, REPAIR): ``recompute_bn_stats``, ``repair``
  (:mod:`~ridgeline.landscape.normalization`)
- straight-line barriers: ``barrier_curve``, ``layerwise_barriers``
  (:mod:`~ridgeline.landscape.barrier`)
- curvature: ``taylor_prediction``, ``predicted_barrier_curve``,
  ``model_directional_derivatives``, ``model_top_eigenvalue``, ``gauss_newton_split``
  (:mod:`~ridgeline.landscape.curvature`, :mod:`~ridgeline.landscape.derivatives`,
  :mod:`~ridgeline.landscape.tangents`, :mod:`~ridgeline.landscape.gauss_newton`); the
  kernels they run (SDPA math, composite LayerNorm): :mod:`~ridgeline.landscape.kernels`
- geometry: ``spawn_geometry``, ``segment_profile``, ``plane_slice``, ``ridge_of_curve``
  (:mod:`~ridgeline.landscape.geometry`, :mod:`~ridgeline.landscape.ridge`)
- alignment: ``align``, ``weight_matching``, ``activation_matching``, ``permutation_spec``,
  ``apply_permutation`` (:mod:`~ridgeline.landscape.alignment`,
  :mod:`~ridgeline.landscape.permutation`); transformers (orthogonal stream map, heads, MLP
  units): :mod:`~ridgeline.landscape.transformer_symmetry`,
  :mod:`~ridgeline.landscape.transformer_matching`,
  :mod:`~ridgeline.landscape.transformer_learned`
- bent paths (Garipov et al. 2018): ``connect``, ``fit_bent_path``, ``bent_path_barrier``
  (:mod:`~ridgeline.landscape.bent_paths`)
- records: the typed results (:mod:`~ridgeline.landscape.results`)

Names this package exported before and no longer does still resolve here, with a
FutureWarning that names the module to import them from.
"""

from ridgeline.landscape._moved import moved_names
from ridgeline.landscape.alignment import (
    AlignmentRecord,
    activation_matching,
    align,
    weight_matching,
)
from ridgeline.landscape.barrier import DEFAULT_ALPHAS, barrier_curve, layerwise_barriers
from ridgeline.landscape.bent_paths import bent_path_barrier, connect, fit_bent_path
from ridgeline.landscape.curvature import (
    model_directional_derivatives,
    model_top_eigenvalue,
    predicted_barrier_curve,
    taylor_prediction,
)
from ridgeline.landscape.eval_path import PathTuning
from ridgeline.landscape.evaluate import Evaluator
from ridgeline.landscape.gauss_newton import gauss_newton_split
from ridgeline.landscape.geometry import plane_slice, segment_profile, spawn_geometry
from ridgeline.landscape.normalization import Endpoints, recompute_bn_stats, repair
from ridgeline.landscape.params import (
    BNPolicy,
    LayerGroup,
    ParamSet,
    delta,
    distance,
    layer_groups,
    lerp,
    lerp_groups,
    norm,
    param_names,
    state_of,
)
from ridgeline.landscape.permutation import apply_permutation, permutation_spec
from ridgeline.landscape.record_codec import RecordFieldError
from ridgeline.landscape.results import (
    BarrierRecord,
    BentPathRecord,
    EigenRecord,
    GaussNewtonRecord,
    GeometryRecord,
    LayerwiseRecord,
    ProfileRecord,
    Record,
    RidgeRecord,
    SliceRecord,
    TaylorRecord,
)
from ridgeline.landscape.ridge import ridge_of_curve
from ridgeline.landscape.sums import Metrics

__all__ = [
    # parameter sets
    "BNPolicy",
    "LayerGroup",
    "ParamSet",
    "delta",
    "distance",
    "layer_groups",
    "lerp",
    "lerp_groups",
    "norm",
    "param_names",
    "state_of",
    # evaluation and normalization
    "Endpoints",
    "Evaluator",
    "Metrics",
    "PathTuning",
    "recompute_bn_stats",
    "repair",
    # straight-line barriers
    "DEFAULT_ALPHAS",
    "barrier_curve",
    "layerwise_barriers",
    # curvature
    "gauss_newton_split",
    "model_directional_derivatives",
    "model_top_eigenvalue",
    "predicted_barrier_curve",
    "taylor_prediction",
    # geometry
    "plane_slice",
    "ridge_of_curve",
    "segment_profile",
    "spawn_geometry",
    # alignment
    "activation_matching",
    "align",
    "apply_permutation",
    "permutation_spec",
    "weight_matching",
    # bent paths
    "bent_path_barrier",
    "connect",
    "fit_bent_path",
    # records
    "AlignmentRecord",
    "BarrierRecord",
    "BentPathRecord",
    "EigenRecord",
    "GaussNewtonRecord",
    "GeometryRecord",
    "LayerwiseRecord",
    "ProfileRecord",
    "Record",
    "RecordFieldError",
    "RidgeRecord",
    "SliceRecord",
    "TaylorRecord",
]

_P = "ridgeline.landscape."
# names exported before (issues up to 29), now imported from their modules
MOVED = {
    "ALIGNMENT_METHODS": "alignment:ALIGNMENT_METHODS",
    "MIDPOINT_ALPHAS": "barrier:MIDPOINT_ALPHAS",
    "barrier_values": "barrier:barrier_values",
    "validate_alphas": "barrier:validate_alphas",
    "with_midpoint": "barrier:with_midpoint",
    "directional_derivatives": "derivatives:directional_derivatives",
    "directional_second_derivative": "derivatives:directional_second_derivative",
    "hvp": "derivatives:hvp",
    "power_iteration": "derivatives:power_iteration",
    "top_eigenvalue": "derivatives:top_eigenvalue",
    "model_hvp": "curvature:model_hvp",
    "EvalPath": "eval_path:EvalPath",
    "ParamSetGroup": "groups:ParamSetGroup",
    "sums_to_metrics": "sums:sums_to_metrics",
    "ChannelStats": "normalization:ChannelStats",
    "channel_stats": "normalization:channel_stats",
    "repair_layers": "normalization:repair_layers",
    "largest_bump": "geometry:largest_bump",
    "project_onto_plane": "geometry:project_onto_plane",
    "affine": "params:affine",
    "angle_at": "params:angle_at",
    "cosine": "params:cosine",
    "dot": "params:dot",
    "flatten": "params:flatten",
    "float_buffer_names": "params:float_buffer_names",
    "group_distances": "params:group_distances",
    "has_batchnorm": "params:has_batchnorm",
    "select_groups": "params:select_groups",
    "unflatten": "params:unflatten",
    "Permutation": "permutation:Permutation",
    "PermutationGroup": "permutation:PermutationGroup",
    "PermutationSpec": "permutation:PermutationSpec",
    "PermutedAxis": "permutation:PermutedAxis",
    "UnsupportedModelError": "permutation:UnsupportedModelError",
    "identity_permutation": "permutation:identity_permutation",
    "invert_permutation": "permutation:invert_permutation",
    "random_permutation": "permutation:random_permutation",
    "BarrierValues": "results:BarrierValues",
    "LayerBarrier": "results:LayerBarrier",
    "LayerCurvature": "results:LayerCurvature",
    "CurvatureSplit": "results:CurvatureSplit",
    "PlaneTrajectory": "results:PlaneTrajectory",
    "CurveRecord": "results:BentPathRecord",
    "CurveFitRecord": "results:BentPathFitRecord",
    "cross_entropy_split": "gauss_newton:cross_entropy_split",
    "curvature_splits": "gauss_newton:curvature_splits",
    "chord_excess": "ridge:chord_excess",
    "locate_peak": "ridge:locate_peak",
    "ridge_on_path": "ridge:ridge_on_path",
    "CURVE_KINDS": "bent_paths:BENT_PATH_KINDS",
    "CurveFit": "bent_paths:BentPathFit",
    "curve_barrier": "bent_paths:bent_path_barrier",
    "curve_barrier_fn": "bent_paths:bent_path_barrier_fn",
    "curve_coefficients": "bent_paths:bent_path_coefficients",
    "curve_point": "bent_paths:bent_path_point",
    "curve_points": "bent_paths:bent_path_points",
    "fit_curve": "bent_paths:fit_bent_path",
    "network_curve_loss": "bent_paths:network_bent_path_loss",
}
__getattr__ = moved_names(__name__, {old: _P + new for old, new in MOVED.items()})
