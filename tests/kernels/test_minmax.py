import pytest
import torch

from hpcast.kernels.minmax import minmax_stats, minmax_stats_reference, minmax_transform, minmax_transform_reference
from tests.kernels.conftest import TOLERANCE, poisoned


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(1823, 7), (1823, 8), (4096, 1), (5, 1), (64, 33), (40, 300)])
def test_stats_and_transforms_match_the_reference(shape, dtype, device):
    """Dense rows (F a power of two, with and without a partial last tile), masked columns (7, 33) and two
    column blocks (300 > 256 columns)."""
    torch.manual_seed(0)
    x = (torch.randn(shape, dtype=dtype) * 30 + 7).to(device)
    x[:, 0] = 4.25  # a constant column
    low, scale = minmax_stats(x)
    ref_low, ref_scale = minmax_stats_reference(x)
    assert torch.equal(low, ref_low) and torch.equal(scale, ref_scale)
    assert scale[0] == 1.0
    z = minmax_transform(x, low, scale, out=poisoned(x))
    torch.testing.assert_close(z, minmax_transform_reference(x, ref_low, ref_scale), **TOLERANCE[dtype])
    assert torch.all(z[:, 0] == 0)  # constant columns map to 0
    back = minmax_transform(z, low, scale, inverse=True, out=poisoned(x))
    expected = minmax_transform_reference(z, ref_low, ref_scale, inverse=True)
    torch.testing.assert_close(back, expected, **TOLERANCE[dtype])
    torch.testing.assert_close(back, x, rtol=0, atol=4 * torch.finfo(dtype).eps * float(x.abs().max()))


@pytest.mark.parametrize("shape", [(1000, 4), (1000, 5)])
def test_persistent_grid_strides_over_many_tiles(shape, device):
    """3 programs over 63 tiles of 16 rows (the last one partial): every tile is folded into the statistics,
    wherever the extremes and the NaN fall."""
    torch.manual_seed(2)
    x = torch.randn(shape, dtype=torch.float64, device=device)
    x[997, 1], x[3, 2] = 50.0, -50.0  # in the partial tile, in the first
    low, scale = minmax_stats(x, block_t=16, programs=3)
    ref_low, ref_scale = minmax_stats_reference(x)
    assert torch.equal(low, ref_low) and torch.equal(scale, ref_scale)
    z = minmax_transform(x, low, scale, out=poisoned(x), block_t=16)
    torch.testing.assert_close(z, minmax_transform_reference(x, ref_low, ref_scale), **TOLERANCE[torch.float64])
    x[520, 3] = x[999, 3] = float("nan")
    with pytest.raises(ValueError, match=r"column 3 has 2 NaN value\(s\)"):
        minmax_stats(x, block_t=16, programs=3)


def test_in_place_and_row_strided_inputs(device):
    x = torch.randn(300, 10, dtype=torch.float64, device=device)
    view = x[::3]  # rows with a stride, columns contiguous
    low, scale = minmax_stats(view)
    expected = minmax_transform_reference(view, *minmax_stats_reference(view))
    result = minmax_transform(view.clone(), low, scale)
    torch.testing.assert_close(result, expected)
    buffer = view.clone()
    assert minmax_transform(buffer, low, scale, out=buffer) is buffer
    torch.testing.assert_close(buffer, expected)
    dense = torch.randn(300, 8, dtype=torch.float64, device=device)
    expected = minmax_transform_reference(dense, *minmax_stats_reference(dense))
    assert minmax_transform(dense, *minmax_stats(dense), out=dense) is dense
    torch.testing.assert_close(dense, expected)


def test_nan_policy_fit_refuses_transform_propagates(device):
    x = torch.randn(50, 4, dtype=torch.float64, device=device)
    x[7, 2] = x[9, 2] = float("nan")
    for fit in (minmax_stats, minmax_stats_reference):
        with pytest.raises(ValueError, match=r"column 2 has 2 NaN value\(s\) in the fit span"):
            fit(x)
    clean = torch.nan_to_num(x)
    out = minmax_transform(x, *minmax_stats(clean))
    assert torch.isnan(out[7, 2]) and torch.isfinite(out[~torch.isnan(x)]).all()


def test_errors_say_expected_and_actual():
    with pytest.raises(ValueError, match=r"x must be 2-D \(T, F\), got shape \(3,\)"):
        minmax_stats(torch.zeros(3))
    with pytest.raises(ValueError, match=r"x spans 2147483648 elements; the kernels index with 32-bit offsets"):
        minmax_stats(torch.zeros(1, 1).expand(2**30, 2))
    with pytest.raises(ValueError, match=r"low and scale must have shape \(2,\)"):
        minmax_transform(torch.zeros(3, 2), torch.zeros(3), torch.ones(3))
