"""nn.Module: init/apply, state, rng, vmap over inputs and params, state dicts, errors."""

import functools

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn
from tests.helpers import check_grads

KEY = fg.random.key(0)


class CNN(nn.Module):
    def __init__(self, dropout=0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(4, 6, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(6 * 2 * 2, 5)

    def forward(self, x):
        x = self.pool(nn.relu(self.conv1(x)))
        x = self.pool(nn.relu(self.conv2(x)))
        return self.fc(self.drop(x.reshape(x.shape[0], -1)))


class BNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(4, 2))

    def forward(self, x):
        return self.head(self.bn(self.fc(x)))


def _x(shape, seed=1, dtype=np.float32):
    return fnp.asarray(np.random.default_rng(seed).normal(size=shape).astype(dtype))


def test_init_names_shapes_and_determinism():
    model = CNN()
    params = model.init(KEY)
    assert set(params) == {"conv1", "conv2", "fc"}  # no entry for layers without params
    assert params["conv1"]["weight"].shape == (4, 3, 3, 3)
    assert params["fc"]["weight"].shape == (5, 24) and params["fc"]["bias"].shape == (5,)
    assert params["fc"]["weight"].dtype == np.float32
    again = model.init(KEY)
    for a, b in zip(fg.tree_util.tree_leaves(params), fg.tree_util.tree_leaves(again)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    other = model.init(fg.random.key(1))
    assert not np.allclose(np.asarray(other["fc"]["weight"]), np.asarray(params["fc"]["weight"]))
    assert not np.allclose(
        np.asarray(params["conv1"]["weight"][:3]), np.asarray(params["conv2"]["weight"][:3, :3])
    )
    assert model.init(KEY, dtype=np.float64)["fc"]["bias"].dtype == np.float64
    assert model.init_state() == {}
    assert nn.num_params(params) == 4 * 27 + 4 + 6 * 36 + 6 + 24 * 5 + 5


def test_apply_is_pure_and_stateless_returns():
    model, x = CNN(), _x((2, 3, 8, 8))
    params = model.init(KEY)
    before = dict(vars(model))
    y1, y2 = model.apply(params, x), model.apply(params, x)
    assert vars(model) == before  # apply mutates no module
    assert y1.shape == (2, 5)
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(y2))
    y, state = model.apply(params, x, state={})
    assert state == {}
    np.testing.assert_array_equal(np.asarray(y), np.asarray(y1))


def test_apply_matches_functional_composition():
    model, x = CNN(), _x((2, 3, 8, 8))
    p = model.init(KEY)
    F = nn.functional
    h = F.max_pool2d(F.relu(F.conv2d(x, p["conv1"]["weight"], p["conv1"]["bias"], padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p["conv2"]["weight"], p["conv2"]["bias"], padding=1)), 2)
    expected = F.linear(h.reshape(2, -1), p["fc"]["weight"], p["fc"]["bias"])
    np.testing.assert_allclose(np.asarray(model.apply(p, x)), np.asarray(expected), rtol=1e-6)


def test_grad_of_apply():
    model = CNN()
    params = model.init(KEY, dtype=np.float64)
    x = _x((2, 3, 8, 8), dtype=np.float64)
    labels = fnp.asarray([1, 3])

    def loss(p):
        return nn.cross_entropy(model.apply(p, x), labels)

    g = fg.grad(loss)(params)
    assert fg.tree_util.tree_structure(g) == fg.tree_util.tree_structure(params)
    leaves, treedef = fg.tree_util.tree_flatten(params)

    def flat_loss(*leaves):
        return loss(fg.tree_util.tree_unflatten(treedef, list(leaves)))

    check_grads(flat_loss, leaves, order=1)


def test_vmap_over_inputs():
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    params = model.init(KEY)
    xs = _x((5, 4))
    per_example = fg.vmap(lambda x: model.apply(params, x))(xs)
    np.testing.assert_allclose(
        np.asarray(per_example), np.asarray(model.apply(params, xs)), rtol=1e-6
    )
    cnn = CNN()
    p = cnn.init(KEY)
    batches = _x((3, 2, 3, 8, 8))
    out = fg.vmap(lambda b: cnn.apply(p, b))(batches)
    for i in range(3):
        np.testing.assert_allclose(
            np.asarray(out[i]), np.asarray(cnn.apply(p, batches[i])), rtol=1e-5, atol=1e-6
        )


def test_vmap_over_stacked_params_ensemble():
    model = CNN()
    keys = fg.random.split(KEY, 4)
    stacked = fg.vmap(model.init)(keys)
    assert stacked["conv1"]["weight"].shape == (4, 4, 3, 3, 3)
    x = _x((2, 3, 8, 8))
    out = fg.vmap(lambda p: model.apply(p, x))(stacked)
    assert out.shape == (4, 2, 5)
    for i in range(4):
        member = fg.tree_util.tree_map(lambda a, i=i: a[i], stacked)
        np.testing.assert_allclose(
            np.asarray(member["fc"]["bias"]),
            np.asarray(model.init(keys[i])["fc"]["bias"]),
            rtol=1e-6,
        )
        np.testing.assert_allclose(
            np.asarray(out[i]), np.asarray(model.apply(member, x)), rtol=1e-5, atol=1e-6
        )
    # per-member gradients of an ensemble loss
    grads = fg.vmap(fg.grad(lambda p: fnp.sum(model.apply(p, x) ** 2)))(stacked)
    assert grads["fc"]["weight"].shape == (4, 5, 24)


def test_batchnorm_state_through_apply():
    model = BNNet()
    params, state = model.init(KEY), model.init_state()
    assert set(state) == {"bn"} and state["bn"]["num_batches_tracked"].dtype == np.int64
    x = _x((6, 3))
    y, new_state = model.apply(params, x, state=state, train=True)
    assert int(new_state["bn"]["num_batches_tracked"]) == 1
    assert float(state["bn"]["running_var"][0]) == 1.0  # the input state is untouched
    h = np.asarray(nn.linear(x, params["fc"]["weight"], params["fc"]["bias"]), np.float64)
    np.testing.assert_allclose(
        np.asarray(new_state["bn"]["running_mean"]), 0.1 * h.mean(0), rtol=1e-5
    )
    np.testing.assert_allclose(
        np.asarray(new_state["bn"]["running_var"]), 0.9 + 0.1 * h.var(0, ddof=1), rtol=1e-5
    )
    y_eval, same = model.apply(params, x, state=new_state)
    assert same is new_state
    with pytest.raises(ValueError, match=r"state=model.init_state\(\)"):
        model.apply(params, x)

    def loss(p, s):
        out, s = model.apply(p, x, state=s, train=True)
        return fnp.sum(out**2), s

    (val, s2), g = fg.value_and_grad(loss, has_aux=True)(params, state)
    assert type(s2["bn"]["running_mean"]) is fg.Array
    assert g["bn"]["weight"].shape == (4,)


def test_dropout_rng():
    model = nn.Sequential(nn.Dropout(0.5), nn.Linear(20, 20), nn.Dropout(0.5))
    params = model.init(KEY)
    x = fnp.ones((4, 20))
    np.testing.assert_array_equal(
        np.asarray(model.apply(params, x)), np.asarray(model.apply(params, x, train=False))
    )
    a = model.apply(params, x, train=True, rng=fg.random.key(3))
    b = model.apply(params, x, train=True, rng=fg.random.key(3))
    c = model.apply(params, x, train=True, rng=fg.random.key(4))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    with pytest.raises(ValueError, match=r"^0 \(Dropout.*rng="):
        model.apply(params, x, train=True)


def test_same_layer_called_twice_gets_fresh_masks():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            return self.drop(x), self.drop(x)

    a, b = Twice().apply({}, fnp.ones(64), train=True, rng=KEY)
    assert not np.array_equal(np.asarray(a), np.asarray(b))


def test_custom_parameters_and_buffers():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(fnp.ones(3) * 2)
            self.shift = nn.Parameter(functools.partial(nn.init.normal, std=0.1), (3,))
            self.calls = nn.Buffer(np.zeros((), np.int64))
            self.inner = nn.Linear(3, 3, bias=False)

        def forward(self, x):
            self.calls = self.calls + 1
            return self.inner(x * self.scale + self.shift)

    model = Scale()
    params, state = model.init(KEY), model.init_state()
    assert list(params) == ["scale", "shift", "inner"]
    np.testing.assert_array_equal(np.asarray(params["scale"]), [2, 2, 2])
    y, state = model.apply(params, fnp.ones(3), state=state)
    y, state = model.apply(params, fnp.ones(3), state=state)
    assert int(state["calls"]) == 2
    assert isinstance(model.scale, nn.Parameter)  # outside apply: the declaration
    with pytest.raises(TypeError, match="Buffer"):
        model.calls = 3


def test_sequential_and_module_list_names():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    params = seq.init(KEY)
    assert list(params) == ["0", "2"]
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU)

    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])

        def forward(self, x):
            for b in self.blocks:
                x = b(x)
            return x

    model = Stack()
    p = model.init(KEY)
    assert list(p["blocks"]) == ["0", "1", "2"]
    assert model.apply(p, fnp.ones(2)).shape == (2,)
    assert [n for n, _ in model.named_modules()] == [
        "",
        "blocks",
        "blocks.0",
        "blocks.1",
        "blocks.2",
    ]


def test_state_dict_round_trip():
    model = BNNet()
    params, state = model.init(KEY), model.init_state()
    _, state = model.apply(params, _x((5, 3)), state=state, train=True)
    sd = nn.state_dict(params, state)
    assert list(sd)[:2] == ["fc.weight", "fc.bias"]
    assert {"bn.running_mean", "bn.running_var", "bn.num_batches_tracked", "head.1.weight"} <= set(
        sd
    )
    numpy_sd = {
        k: np.asarray(v).astype(np.float64) if k != "bn.num_batches_tracked" else np.asarray(v)
        for k, v in sd.items()
    }
    p2, s2 = nn.load_state_dict((model.init(fg.random.key(9)), model.init_state()), numpy_sd)
    for a, b in zip(fg.tree_util.tree_leaves((params, state)), fg.tree_util.tree_leaves((p2, s2))):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    only_params = nn.load_state_dict(model.init(fg.random.key(9)), nn.state_dict(params))
    np.testing.assert_array_equal(
        np.asarray(only_params["head"]["1"]["bias"]), np.asarray(params["head"]["1"]["bias"])
    )


def test_load_state_dict_errors():
    model = BNNet()
    template = model.init(KEY)
    sd = dict(nn.state_dict(template))
    del sd["fc.bias"]
    sd["fc.extra"] = np.zeros(2)
    sd["head.1.weight"] = np.zeros((3, 4))
    with pytest.raises(ValueError) as err:
        nn.load_state_dict(template, sd)
    msg = str(err.value)
    assert "missing keys: fc.bias" in msg and "unexpected keys: fc.extra" in msg
    assert "head.1.weight: expected shape (2, 4), got (3, 4)" in msg
    loaded, report = nn.load_state_dict(template, sd, strict=False)
    assert report.missing_keys == ["fc.bias"] and report.unexpected_keys == ["fc.extra"]
    assert len(report.mismatched_keys) == 1
    np.testing.assert_array_equal(
        np.asarray(loaded["fc"]["weight"]), np.asarray(template["fc"]["weight"])
    )


def test_summary():
    text = nn.summary(CNN(), _x((1, 3, 8, 8)), print_fn=None)
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "type", "output", "shape", "params"]
    assert any(
        line.split()[:2] == ["conv2", "Conv2d"] and "(1, 6, 4, 4)" in line and line.endswith("222")
        for line in lines
    )
    assert "total params: 459" in lines[-1] and "output: (1, 5)" in lines[-1]


# ----------------------------------------------------------------------------- bad input


def test_wrong_input_names_the_layer():
    model, params = CNN(), CNN().init(KEY)
    with pytest.raises(
        ValueError,
        match=r"^conv1 \(Conv2d\(3, 4.*expected input of shape \(N, 3, H, W\).*got \(2, 5, 8, 8\)",
    ):
        model.apply(params, _x((2, 5, 8, 8)))
    with pytest.raises(ValueError, match=r"^conv1 .*got \(8, 8\)"):
        model.apply(params, _x((8, 8)))

    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3)
            self.conv2 = nn.Conv2d(8, 4, 3)

        def forward(self, x):
            return self.conv2(self.conv1(x))

    bad = Bad()
    with pytest.raises(
        ValueError, match=r"^conv2 \(Conv2d\(8, 4.*\(N, 8, H, W\).*got \(1, 4, 6, 6\)"
    ):
        bad.apply(bad.init(KEY), _x((1, 3, 8, 8)))
    net = BNNet()
    with pytest.raises(ValueError, match=r"^fc \(Linear.*\(\.\.\., 3\), got \(2, 4\)"):
        net.apply(net.init(KEY), _x((2, 4)), state=net.init_state())
    with pytest.raises(ValueError, match=r"^bn \(BatchNorm1d.*\(N, 4\) or \(N, 4, L\)"):
        net.apply(net.init(KEY), _x((3,)), state=net.init_state())
    nested = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match=r"^1\.1 \(Linear"):
        nested.apply(nested.init(KEY), fnp.ones(2))


def test_wrong_params_name_the_path():
    model = CNN()
    params = model.init(KEY)
    other = nn.Sequential(nn.Linear(2, 3)).init(KEY)
    with pytest.raises(
        ValueError, match=r"params has no entry 'conv1.weight'|unexpected entry '0'"
    ):
        model.apply(other, _x((1, 3, 8, 8)))
    wrong = dict(params, conv2={"weight": fnp.zeros((6, 5, 3, 3)), "bias": params["conv2"]["bias"]})
    with pytest.raises(
        ValueError,
        match=r"'conv2.weight' has shape \(6, 5, 3, 3\) but the model expects \(6, 4, 3, 3\)",
    ):
        model.apply(wrong, _x((1, 3, 8, 8)))
    missing = {k: v for k, v in params.items() if k != "fc"}
    with pytest.raises(ValueError, match=r"no entry 'fc.weight'"):
        model.apply(missing, _x((1, 3, 8, 8)))
    extra = dict(params, fc=dict(params["fc"], scale=fnp.ones(1)))
    with pytest.raises(ValueError, match=r"unexpected entry 'fc.scale'"):
        model.apply(extra, _x((1, 3, 8, 8)))
    # as many keys as expected, one of them wrong: the quick structure check must not pass it
    renamed = dict(params, fc={"weight": params["fc"]["weight"], "scale": fnp.ones(1)})
    with pytest.raises(ValueError, match=r"no entry 'fc.bias'"):
        model.apply(renamed, _x((1, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"entry 'fc' is a list, not a dict"):
        model.apply(
            dict(params, fc=[params["fc"]["weight"], params["fc"]["bias"]]), _x((1, 3, 8, 8))
        )
    net = BNNet()
    with pytest.raises(ValueError, match=r"state has no entry 'bn.running_mean'"):
        net.apply(net.init(KEY), _x((2, 3)), state={"bn": {}})
    state = net.init_state()
    bad_state = {"bn": dict(state["bn"], running_var=fnp.ones(5))}
    with pytest.raises(ValueError, match=r"'bn.running_var' has shape \(5,\)"):
        net.apply(net.init(KEY), _x((2, 3)), state=bad_state)


def test_module_outside_apply():
    with pytest.raises(RuntimeError, match=r"model.apply\(params, x\)"):
        nn.Linear(2, 2)(fnp.ones(2))

    class Unregistered(nn.Module):
        def forward(self, x):
            return nn.Linear(2, 2)(x)

    with pytest.raises(RuntimeError, match="not an attribute"):
        Unregistered().apply({}, fnp.ones(2))


def test_apply_sees_children_and_parameters_added_after_an_apply():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(3, 2)

        def forward(self, x):
            y = self.fc1(x)
            return y if not hasattr(self, "fc2") else self.fc2(y)

    model = Net()
    x = fnp.ones((1, 3))
    old = model.init(KEY)
    assert model.apply(old, x).shape == (1, 2)
    model.fc2 = nn.Linear(2, 4)  # a new child: apply's cached layout must not be reused
    with pytest.raises(ValueError, match="has no entry 'fc2.weight'"):
        model.apply(old, x)
    assert model.apply(model.init(KEY), x).shape == (1, 4)
    model.fc1.scale = nn.Parameter(fnp.ones(2))  # a new parameter deep inside
    with pytest.raises(ValueError, match=r"has no entry 'fc1.scale' \(expected shape \(2,\)\)"):
        model.apply(old | {"fc2": model.init(KEY)["fc2"]}, x)
    del model.fc2, model.fc1.scale
    assert model.apply(old, x).shape == (1, 2)  # the first layout again
