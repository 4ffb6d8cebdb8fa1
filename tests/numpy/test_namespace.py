"""The public surface promised by the README exists (each function is tested in its own file)."""
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp

JNP_FUNCTIONS = """
array asarray zeros ones full empty zeros_like ones_like full_like empty_like arange linspace eye
identity meshgrid sum mean prod max min amax amin argmax argmin var std any all cumsum cumprod
abs sign sqrt square cbrt reciprocal exp exp2 expm1 log log1p log2 log10 sin cos tan arcsin
arccos arctan arctan2 sinh cosh tanh arcsinh arccosh arctanh floor ceil round trunc hypot
logaddexp fmod mod remainder copysign power float_power maximum minimum clip where isnan isinf
isfinite signbit logical_and logical_or logical_not logical_xor equal not_equal less less_equal
greater greater_equal allclose isclose add subtract multiply divide true_divide floor_divide
negative positive reshape ravel transpose swapaxes moveaxis expand_dims squeeze concatenate stack
vstack hstack split array_split tile repeat flip roll pad broadcast_to broadcast_shapes
atleast_1d atleast_2d take take_along_axis sort argsort tril triu diag diagonal trace outer dot
vdot matmul tensordot einsum inner kron cross finfo iinfo result_type issubdtype
""".split()

JNP_DTYPES = "float16 float32 float64 int8 int16 int32 int64 uint8 uint32 bool_".split()

LAX_PRIMITIVES = """
neg abs sign floor ceil round exp exp2 expm1 log log1p sqrt rsqrt cbrt sin cos tan asin acos
atan sinh cosh tanh asinh acosh atanh logistic erf is_finite bitwise_not add sub mul div rem pow
max min atan2 bitwise_and bitwise_or bitwise_xor shift_left shift_right_arithmetic
shift_right_logical eq ne lt le gt ge select clamp convert_element_type iota broadcasted_iota
broadcast_in_dim reshape transpose rev slice dynamic_slice dynamic_update_slice concatenate pad
gather scatter scatter_add scatter_mul scatter_min scatter_max reduce_sum reduce_prod reduce_max
reduce_min reduce_and reduce_or argmax argmin cumsum cumprod cummax cummin dot_general sort
""".split()

TREE_UTIL = """tree_map tree_leaves tree_flatten tree_unflatten tree_structure register_pytree_node
register_dataclass""".split()


@pytest.mark.parametrize("name", JNP_FUNCTIONS)
def test_jnp_function_exists(name):
    assert callable(getattr(jnp, name))


@pytest.mark.parametrize("name", JNP_DTYPES)
def test_jnp_dtype_exists(name):
    assert np.dtype(getattr(jnp, name)) == np.dtype(getattr(np, name))


@pytest.mark.parametrize("name", LAX_PRIMITIVES)
def test_lax_exposes_primitive(name):
    assert callable(getattr(jc.lax, name))


@pytest.mark.parametrize("name", TREE_UTIL)
def test_tree_util(name):
    assert callable(getattr(jc.tree_util, name))
    # jitcore.tree has JAX's short names: tree_map is tree.map, tree_leaves tree.leaves...
    short = name[len("tree_"):] if name.startswith("tree_") else name
    if hasattr(jc.tree, short):
        assert callable(getattr(jc.tree, short))


def test_linalg_norm():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(jnp.linalg.norm(x), np.linalg.norm(x))
