import pytest
import torch

pytest.importorskip("triton")

TOLERANCE = {torch.float32: {"rtol": 1e-5, "atol": 1e-6}, torch.float64: {"rtol": 1e-10, "atol": 1e-12}}
UNIT_ROUNDOFF_FP32 = 2.0**-24


def float32_tolerance(chain: int, magnitude: float) -> dict[str, float]:
    """Absolute tolerance for a float32 result checked against a float64 reference.

    The probabilistic float32 error model of Higham & Mary (SIAM J. Sci. Comput. 41, 2019): a result
    formed through ``chain`` successive roundings of terms whose absolute values sum to ``magnitude`` is
    off by at most λ·√n·u·magnitude (u = 2⁻²⁴) with probability at least 1 − 2·exp(−λ²/2) per element;
    λ = 6 makes that 1 − 3·10⁻⁸. It holds whatever order a CPU's vector width or a kernel's blocking sums
    in, so it is the same on AVX2 and AVX-512; the worst-case bound (n·u instead of √n·u) is too loose to
    catch a small bug.
    """
    return {"rtol": 0.0, "atol": 6.0 * chain**0.5 * UNIT_ROUNDOFF_FP32 * max(1.0, magnitude)}


@pytest.fixture
def device():
    return "cuda" if torch.cuda.is_available() else "cpu"


def poisoned(like: torch.Tensor) -> torch.Tensor:
    """An output buffer full of NaN: an element the kernel forgets to write fails the comparison."""
    return torch.full_like(like, float("nan"))
