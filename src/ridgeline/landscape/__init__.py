"""Pure-PyTorch landscape core: interpolation, evaluation, barriers, curvature, geometry.

No Lightning, no Hydra. Functions never mutate a live model (weights, buffers, mode, ``.grad``)
and never draw from the global RNG. Definitions: docs/design.md §2–§5.
"""

from ridgeline.landscape.alignment import (
    ALIGNMENT_METHODS,
    AlignmentRecord,
    activation_matching,
    align,
    weight_matching,
)
from ridgeline.landscape.barrier import (
    DEFAULT_ALPHAS,
    MIDPOINT_ALPHAS,
    barrier_curve,
    barrier_values,
    layerwise_barriers,
    validate_alphas,
    with_midpoint,
)
from ridgeline.landscape.curvature import (
    directional_derivatives,
    directional_second_derivative,
    hvp,
    model_directional_derivatives,
    model_hvp,
    model_top_eigenvalue,
    power_iteration,
    predicted_barrier_curve,
    taylor_prediction,
    top_eigenvalue,
)
from ridgeline.landscape.evaluate import (
    EvalPath,
    Evaluator,
    Metrics,
    ParamSetGroup,
    recompute_bn_stats,
    sums_to_metrics,
)
from ridgeline.landscape.geometry import largest_bump, plane_slice, segment_profile, spawn_geometry
from ridgeline.landscape.params import (
    BNPolicy,
    LayerGroup,
    ParamSet,
    affine,
    angle_at,
    cosine,
    delta,
    distance,
    dot,
    flatten,
    float_buffer_names,
    group_distances,
    has_batchnorm,
    layer_groups,
    lerp,
    lerp_groups,
    norm,
    param_names,
    select_groups,
    state_of,
    unflatten,
)
from ridgeline.landscape.permutation import (
    Permutation,
    PermutationGroup,
    PermutationSpec,
    PermutedAxis,
    UnsupportedModelError,
    apply_permutation,
    identity_permutation,
    invert_permutation,
    permutation_spec,
    random_permutation,
)
from ridgeline.landscape.records import (
    BarrierRecord,
    BarrierValues,
    EigenRecord,
    GeometryRecord,
    LayerBarrier,
    LayerCurvature,
    LayerwiseRecord,
    ProfileRecord,
    Record,
    SliceRecord,
    TaylorRecord,
)

__all__ = [
    "ALIGNMENT_METHODS",
    "DEFAULT_ALPHAS",
    "MIDPOINT_ALPHAS",
    "AlignmentRecord",
    "BNPolicy",
    "BarrierRecord",
    "BarrierValues",
    "EigenRecord",
    "EvalPath",
    "Evaluator",
    "GeometryRecord",
    "LayerBarrier",
    "LayerCurvature",
    "LayerGroup",
    "LayerwiseRecord",
    "Metrics",
    "ParamSet",
    "ParamSetGroup",
    "Permutation",
    "PermutationGroup",
    "PermutationSpec",
    "PermutedAxis",
    "ProfileRecord",
    "Record",
    "SliceRecord",
    "TaylorRecord",
    "UnsupportedModelError",
    "activation_matching",
    "affine",
    "align",
    "angle_at",
    "apply_permutation",
    "barrier_curve",
    "barrier_values",
    "cosine",
    "delta",
    "directional_derivatives",
    "directional_second_derivative",
    "distance",
    "dot",
    "flatten",
    "float_buffer_names",
    "group_distances",
    "has_batchnorm",
    "hvp",
    "identity_permutation",
    "invert_permutation",
    "largest_bump",
    "layer_groups",
    "layerwise_barriers",
    "lerp",
    "lerp_groups",
    "model_directional_derivatives",
    "model_hvp",
    "model_top_eigenvalue",
    "norm",
    "param_names",
    "permutation_spec",
    "plane_slice",
    "power_iteration",
    "predicted_barrier_curve",
    "random_permutation",
    "recompute_bn_stats",
    "segment_profile",
    "select_groups",
    "spawn_geometry",
    "state_of",
    "sums_to_metrics",
    "taylor_prediction",
    "top_eigenvalue",
    "unflatten",
    "validate_alphas",
    "weight_matching",
    "with_midpoint",
]

# REPAIR policy (Jordan et al. 2023), issue 24 part 5
from ridgeline.landscape.evaluate import (  # noqa: E402
    ChannelStats,
    Endpoints,
    channel_stats,
    repair,
    repair_layers,
)

__all__ += ["ChannelStats", "Endpoints", "channel_stats", "repair", "repair_layers"]

# Bent paths (Garipov et al. 2018), issue 24 part 4
from ridgeline.landscape.curves import (  # noqa: E402
    CURVE_KINDS,
    CurveFit,
    connect,
    curve_barrier,
    curve_barrier_fn,
    curve_coefficients,
    curve_point,
    curve_points,
    fit_curve,
    network_curve_loss,
)
from ridgeline.landscape.records import CurveFitRecord, CurveRecord  # noqa: E402

__all__ += [
    "CURVE_KINDS",
    "CurveFit",
    "CurveFitRecord",
    "CurveRecord",
    "connect",
    "curve_barrier",
    "curve_barrier_fn",
    "curve_coefficients",
    "curve_point",
    "curve_points",
    "fit_curve",
    "network_curve_loss",
]

# Loss plane, ridge on the path, Gauss-Newton split (issue 24 parts 1-3)
from ridgeline.landscape.gauss_newton import (  # noqa: E402
    cross_entropy_split,
    curvature_splits,
    gauss_newton_split,
)
from ridgeline.landscape.geometry import project_onto_plane  # noqa: E402
from ridgeline.landscape.records import (  # noqa: E402
    CurvatureSplit,
    GaussNewtonRecord,
    PlaneTrajectory,
    RidgeRecord,
)
from ridgeline.landscape.ridge import (  # noqa: E402
    chord_excess,
    locate_peak,
    ridge_of_curve,
    ridge_on_path,
)

__all__ += [
    "cross_entropy_split",
    "curvature_splits",
    "gauss_newton_split",
    "chord_excess",
    "locate_peak",
    "ridge_of_curve",
    "ridge_on_path",
    "CurvatureSplit",
    "GaussNewtonRecord",
    "PlaneTrajectory",
    "RidgeRecord",
    "project_onto_plane",
]
