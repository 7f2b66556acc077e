"""memlev.torch.program_module: the mapping rules of `memlev transfer` on a torch module, and a
small CNN that keeps its accuracy at 512 feedforward levels. Skipped only when torch is absent."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import memlev.torch as mt  # noqa: E402


def bars(n, seed):
    """A 4-class task on 1x12x12 images: a horizontal, vertical, diagonal or anti-diagonal
    bar at a random place, in Gaussian noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.normal(0, 0.2, (n, 1, 12, 12)).astype(np.float32)
    for i in range(n):
        a, b = rng.integers(2, 10, 2)
        for k in range(-2, 3):
            r, c = [(a, b + k), (a + k, b), (a + k, b + k), (a + k, b - k)][y[i]]
            x[i, 0, r, c] += 1.0
    return torch.from_numpy(x), torch.from_numpy(y)


def small_cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Linear(16, 4))


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    net = small_cnn()
    x, y = bars(300, 1)
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net


def accuracy(net, x, y):
    with torch.no_grad():
        return (net(x).argmax(1) == y).float().mean().item()


def layers(net):
    return [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]


def test_cnn_keeps_its_accuracy_at_512_feedforward_levels(trained):
    x, y = bars(500, 2)
    base = accuracy(trained, x, y)
    assert base > 0.9
    before = [m.weight.detach().clone() for m in layers(trained)]
    prog = mt.program_module(trained, "tio2x", "feedforward", 512, seed=1, sample_devices=200, progress=False)
    for w, m in zip(before, layers(trained)):  # the original is untouched
        assert torch.equal(w, m.weight)
    changed = [not torch.equal(m.weight, p.weight) for m, p in zip(layers(trained), layers(prog))]
    assert all(changed)
    assert accuracy(prog, x, y) >= base - 0.02
    # two levels per device leave each weight at -max, 0 or +max: the accuracy falls
    two = mt.program_module(trained, "tio2x", "feedforward", 2, seed=1, sample_devices=200, mode="quantized",
                            progress=False)
    assert accuracy(two, x, y) < base - 0.05


def test_quantized_mapping_follows_the_scale_rules(trained):
    # quantized: every weight is +-(level mean - reset mean) / scale with scale = range / max|w|
    # per layer (per output channel with per_channel), so the largest |w| maps back to itself
    q = mt.program_module(trained, "tio2x", "feedforward", 2, sample_devices=64, mode="quantized",
                          progress=False)
    for m, p in zip(layers(trained), layers(q)):
        vals = torch.unique(p.weight)
        assert len(vals) <= 3
        assert p.weight.abs().max().item() == pytest.approx(m.weight.abs().max().item(), rel=1e-6)
        assert torch.equal(m.bias, p.bias)
    pc = mt.program_module(trained, "tio2x", "feedforward", 2, sample_devices=64, mode="quantized",
                           per_channel=True, progress=False)
    for m, p in zip(layers(trained), layers(pc)):
        a = m.weight.reshape(m.weight.shape[0], -1).abs().amax(1)
        b = p.weight.reshape(p.weight.shape[0], -1).abs().amax(1)
        assert torch.allclose(a, b, rtol=1e-6)


def test_program_module_is_reproducible_and_checks_its_arguments(trained):
    a = mt.program_module(trained, "tio2x", "feedforward", 16, seed=3, sample_devices=32, progress=False)
    b = mt.program_module(trained, "tio2x", "feedforward", 16, seed=3, sample_devices=32, progress=False)
    c = mt.program_module(trained, "tio2x", "feedforward", 16, seed=3, trial=1, sample_devices=32, progress=False)
    assert all(torch.equal(p.weight, q.weight) for p, q in zip(layers(a), layers(b)))
    assert not all(torch.equal(p.weight, q.weight) for p, q in zip(layers(a), layers(c)))
    with pytest.raises(ValueError, match="levels"):
        mt.program_module(trained, "tio2x", "feedforward", 1)
    with pytest.raises(ValueError, match="mode"):
        mt.program_module(trained, "tio2x", "feedforward", 8, mode="bogus")
    with pytest.raises(TypeError):
        mt.program_module("not a module", "tio2x", "feedforward", 8)
