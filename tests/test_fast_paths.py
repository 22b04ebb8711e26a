"""The CPU fast paths compute what the plain PyTorch layers compute: the fused loss, the cheap dropout
mask, the oneDNN ``Linear``, the fused feed-forward block (float32 and bf16 autocast), bf16 attention
and the allocator setting."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mtseq2seq.allocator import keep_freed_cpu_memory
from mtseq2seq.loss import label_smoothed_loss
from mtseq2seq.modules import linear as linear_module
from mtseq2seq.modules.attention import attend, key_mask, use_fused_attention
from mtseq2seq.modules.dropout import dropout, keep_mask, keep_scale
from mtseq2seq.modules.feedforward import FeedForward
from mtseq2seq.modules.linear import Linear

PAD = 0


def reference_loss(logits: torch.Tensor, target: torch.Tensor, smoothing: float) -> torch.Tensor:
    lprobs = logits.float().log_softmax(-1)  # (B, T, V)
    nll = -lprobs.gather(-1, target[..., None]).squeeze(-1)  # (B, T)
    smooth = -lprobs.mean(-1)  # (B, T)
    per_token = (1 - smoothing) * nll + smoothing * smooth
    return per_token.masked_select(target.ne(PAD)).sum()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_loss_matches_log_softmax_reference(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    vocab = 300  # chunks of CHUNK_ELEMENTS // 300 rows: several chunks for 7 x 200 rows
    logits = (3 * torch.randn(7, 200, vocab)).to(dtype).requires_grad_()
    target = torch.randint(1, vocab, (7, 200))
    target[:, 150:] = PAD
    out = label_smoothed_loss(logits, target, 0.1, PAD)
    ref_logits = logits.detach().clone().requires_grad_()
    ref = reference_loss(ref_logits, target, 0.1)
    out.loss.backward()
    ref.backward()
    assert out.tokens == 7 * 150
    assert out.loss.item() == pytest.approx(ref.item(), rel=1e-5)
    nll = -ref_logits.detach().float().log_softmax(-1).gather(-1, target[..., None]).squeeze(-1)
    assert out.nll == pytest.approx(float(nll[target.ne(PAD)].sum()), rel=1e-5)
    expected_correct = (ref_logits.detach().argmax(-1).eq(target) & target.ne(PAD)).sum()
    assert out.correct == int(expected_correct)
    tolerance = 1e-6 if dtype == torch.float32 else 1e-2
    assert torch.allclose(logits.grad.float(), ref_logits.grad.float(), atol=tolerance)
    assert logits.grad[:, 150:].abs().max() == 0  # padding rows get no gradient


def test_fused_loss_ignores_non_finite_padding_rows() -> None:
    logits = torch.randn(1, 3, 5, requires_grad=True)
    target = torch.tensor([[2, 4, PAD]])
    with torch.no_grad():
        logits[0, 2] = float("inf")
    out = label_smoothed_loss(logits, target, 0.1, PAD)
    assert torch.isfinite(out.loss)


def test_keep_mask_rate_and_scale() -> None:
    torch.manual_seed(0)
    mask = keep_mask((1000, 1000), 0.1, torch.device("cpu"))
    assert mask.dtype == torch.bool and mask.shape == (1000, 1000)
    assert abs(mask.float().mean().item() - 0.9) < 0.002  # 1e6 draws: standard error 3e-4
    for lane in range(4):  # every 16-bit lane of the random words keeps at the same rate
        assert abs(mask.view(-1)[lane::4].float().mean().item() - 0.9) < 0.004
    assert keep_scale(0.1) == pytest.approx(1 / 0.9, rel=1e-4)


def test_dropout_keeps_the_expectation_and_is_reproducible() -> None:
    x = torch.ones(400, 500)
    torch.manual_seed(3)
    first = dropout(x, 0.3, True)
    torch.manual_seed(3)
    second = dropout(x, 0.3, True)
    assert torch.equal(first, second)
    assert first.mean().item() == pytest.approx(1.0, abs=0.01)
    values = first.unique().tolist()
    assert values[0] == 0.0 and values[1] == pytest.approx(keep_scale(0.3)) and len(values) == 2
    assert torch.equal(dropout(x, 0.3, False), x)


@pytest.mark.parametrize("onednn", [True, False])
def test_linear_matches_f_linear(onednn: bool) -> None:
    torch.manual_seed(0)
    layer = Linear(24, 40)
    x = torch.randn(3, 5, 24, requires_grad=True)
    linear_module.use_onednn(onednn)
    try:
        y = layer(x)
        y.square().sum().backward()
    finally:
        linear_module.use_onednn(True)
    x_ref = x.detach().clone().requires_grad_()
    weight = layer.weight.detach().clone().requires_grad_()
    bias = layer.bias.detach().clone().requires_grad_()
    y_ref = F.linear(x_ref, weight, bias)
    y_ref.square().sum().backward()
    assert torch.allclose(y, y_ref, atol=1e-5)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-4)
    assert torch.allclose(layer.weight.grad, weight.grad, atol=1e-4)
    assert torch.allclose(layer.bias.grad, bias.grad, atol=1e-4)
    with torch.no_grad():  # the decoding path with packed weights
        assert torch.allclose(layer(x), y_ref, atol=1e-5)


def unfused(block: FeedForward, x: torch.Tensor) -> torch.Tensor:
    first, relu, _, second = block
    return second(relu(first(x)))


@pytest.mark.parametrize("onednn", [True, False])  # either product path `fast_paths.py` may choose
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fused_feed_forward_matches_the_layers(precision: str, onednn: bool) -> None:
    torch.manual_seed(0)
    block = FeedForward(16, 64, dropout=0.0)
    reference = FeedForward(16, 64, dropout=0.0)
    reference.load_state_dict(block.state_dict())
    x = torch.randn(4, 6, 16)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    linear_module.use_onednn(onednn)
    try:
        with autocast:
            y = block(x)
    finally:
        linear_module.use_onednn(True)
    with autocast:
        linear_module.use_onednn(False)  # the reference runs nn.Linear's own path
        try:
            y_ref = unfused(reference, x)
        finally:
            linear_module.use_onednn(True)
    (y.float() * torch.arange(16.0)).sum().backward()
    (y_ref.float() * torch.arange(16.0)).sum().backward()
    tolerance = 1e-5 if precision == "fp32" else 3e-2
    assert y.dtype == y_ref.dtype
    assert torch.allclose(y.float(), y_ref.float(), atol=tolerance)
    for (name, p), p_ref in zip(block.named_parameters(), reference.parameters()):
        assert p.grad.dtype == torch.float32, name
        scale = p_ref.grad.abs().max().item()
        assert torch.allclose(p.grad, p_ref.grad, atol=tolerance * max(scale, 1.0)), name


def test_fused_feed_forward_dropout_gradient_flows_only_through_kept_units() -> None:
    torch.manual_seed(0)
    block = FeedForward(8, 32, dropout=0.5).train()
    x = torch.randn(50, 8, requires_grad=True)
    torch.manual_seed(7)
    y = block(x)
    y.sum().backward()
    # the same computation by hand, with the mask drawn from the same generator state
    first, _, _, second = block
    torch.manual_seed(7)
    x_ref = x.detach().clone().requires_grad_()
    hidden = F.relu(F.linear(x_ref, first.weight.detach(), first.bias.detach()))
    kept = keep_mask(hidden.shape, 0.5, hidden.device)
    y_ref = F.linear(hidden * kept * keep_scale(0.5), second.weight.detach(), second.bias.detach())
    y_ref.sum().backward()
    assert torch.allclose(y, y_ref, atol=1e-5)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-5)


def test_allocator_setting_answers_without_failing() -> None:
    # True on glibc Linux, False elsewhere; either way a second call is harmless
    assert keep_freed_cpu_memory() == keep_freed_cpu_memory()
    big = torch.ones(4096, 4096)
    assert big.sum().item() == 4096 * 4096


@pytest.mark.parametrize("fused", [False, True])  # each path `fast_paths.py` may choose
@pytest.mark.parametrize("causal", [False, True])
def test_bf16_attention_matches_float32_sdpa(causal: bool, fused: bool) -> None:
    """bf16 on the CPU, written out (two products, float32 softmax; the default) or through the
    fused kernel, against float32's kernel."""
    use_fused_attention(torch.bfloat16, fused)
    try:
        check_bf16_attention(causal)
    finally:
        use_fused_attention(torch.bfloat16, False)


def check_bf16_attention(causal: bool) -> None:
    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 4, 7, 16) for _ in range(3))  # (B, H, T, dh)
    keep = torch.ones(3, 7, dtype=torch.bool)
    keep[1, 5:] = False  # padded keys
    mask = None if causal else key_mask(keep)  # (B, 1, 1, S)
    ref_inputs = [t.clone().requires_grad_() for t in (q, k, v)]
    ref = F.scaled_dot_product_attention(*ref_inputs, attn_mask=mask, is_causal=causal)
    bf16_inputs = [t.bfloat16().requires_grad_() for t in (q, k, v)]
    out = attend(*bf16_inputs, mask, causal, 0.0, True)
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), ref, atol=3e-2)
    weights = torch.randn_like(ref)
    (ref * weights).sum().backward()
    (out.float() * weights).sum().backward()
    for got, want in zip(bf16_inputs, ref_inputs):
        assert torch.allclose(got.grad.float(), want.grad, atol=5e-2 * max(want.grad.abs().max().item(), 1.0))
    with torch.no_grad():  # decoding/validation under autocast: same path, no dropout
        assert torch.allclose(attend(*(t.bfloat16() for t in (q, k, v)), mask, causal, 0.1, False).float(),
                              ref, atol=3e-2)


def test_precision_auto_follows_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    from mtseq2seq.devices import resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported",
                            lambda native=native: native)
        assert resolve_precision("auto", cpu) == expected


def test_packed_inference_weights_follow_a_fused_optimizer_update() -> None:
    """Fused Adam writes the weights in place without moving their version: the packed copy of
    an eval-mode forward must not survive into the next evaluation."""
    torch.manual_seed(0)
    layer = Linear(24, 40)
    x = torch.randn(5, 24)
    layer.eval()
    with torch.no_grad():
        layer(x)  # packs the weight
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.1, fused=True)
    layer.train()
    layer(x).square().sum().backward()
    optimizer.step()
    layer.eval()
    with torch.no_grad():
        assert torch.allclose(layer(x), F.linear(x, layer.weight, layer.bias), atol=1e-5)
