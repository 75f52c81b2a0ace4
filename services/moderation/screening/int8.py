"""int8 inference for the encoder's linear layers: int8 weights times int8 activations.

Weights are quantized once, symmetrically, per output channel. Activations are quantized per
token at every call, so one token with large values (BERT-style encoders have a few) only coarsens
its own row, not the whole batch. PyTorch's dynamic quantization shares one scale across the
batch, and that cost recall here (embedding cosine to float32 as low as 0.83). The product runs in
`torch._int_mm` (int8 x int8 -> int32, VNNI dot products where the CPU has them), and is rescaled
to float32 by the token's and the channel's scales.

Query, key and value read the same input, so they share one quantization of it (`RowQuantizer`).
"""

from __future__ import annotations

import copy

import torch

_INT8_MAX = 127.0


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`x` (rows x features, float32) as int8 with one scale per row: x ~= q * scale."""
    peak = torch.linalg.vector_norm(x, float("inf"), dim=1, keepdim=True).clamp_(min=1e-12)
    scaled = x.mul(_INT8_MAX / peak)
    scaled.round_()
    return scaled.to(torch.int8), peak.div_(_INT8_MAX)


def _as_rows(x: torch.Tensor, features: int) -> torch.Tensor:
    rows = x.reshape(-1, features)
    return rows if rows.dtype == torch.float32 else rows.float()


class RowQuantizer:
    """Quantizes an input once for the `readers` layers that read that same tensor in turn, and
    lets it go after the last of them, so no batch's activations outlive its forward pass."""

    def __init__(self, readers: int) -> None:
        self._readers = readers
        self._reads = 0
        self._input: torch.Tensor | None = None
        self._quantized: tuple[torch.Tensor, torch.Tensor] | None = None

    def __call__(self, x: torch.Tensor, features: int) -> tuple[torch.Tensor, torch.Tensor]:
        # Identity, not equality: while cached, the input is held here, so its id cannot be reused.
        if self._input is not x or self._quantized is None:
            self._input, self._quantized, self._reads = x, quantize_rows(_as_rows(x, features)), 0
        quantized = self._quantized
        self._reads += 1
        if self._reads >= self._readers:
            self._input = self._quantized = None
        return quantized


class Int8Linear(torch.nn.Module):
    """A drop-in for `torch.nn.Linear` computing in int8 (see the module docstring)."""

    weight_q: torch.Tensor  # (in, out) int8
    weight_scale: torch.Tensor  # (out,) float32
    bias: torch.Tensor  # (out,) float32

    def __init__(self, linear: torch.nn.Linear, quantizer: RowQuantizer | None = None) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp(min=1e-12) / _INT8_MAX
        self.register_buffer("weight_q", torch.round(weight / scale[:, None]).to(torch.int8).t().contiguous())
        self.register_buffer("weight_scale", scale)
        bias = linear.bias.detach().float().clone() if linear.bias is not None else torch.zeros(weight.shape[0])
        self.register_buffer("bias", bias)
        self.in_features = weight.shape[1]
        self.out_features = weight.shape[0]
        self._quantizer = quantizer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._quantizer is not None:
            q, row_scale = self._quantizer(x, self.in_features)
        else:
            q, row_scale = quantize_rows(_as_rows(x, self.in_features))
        out = torch._int_mm(q, self.weight_q).to(torch.float32)
        out.mul_(row_scale).mul_(self.weight_scale).add_(self.bias)
        return out.reshape(*x.shape[:-1], self.out_features)


def int8_supported() -> bool:
    """Whether this torch build multiplies int8 matrices on the CPU (torch._int_mm)."""
    try:
        ones = torch.ones((32, 64), dtype=torch.int8)
        return bool(torch._int_mm(ones, ones.t().contiguous())[0, 0].item() == 64)
    except (RuntimeError, AttributeError, NotImplementedError):
        return False


def quantized_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of a transformers BERT-style encoder whose encoder-layer linears compute in int8.

    The embeddings (a lookup) and anything outside `encoder.layer` stay float32. In each attention
    block, query, key and value share one quantization of their common input."""
    quantized = copy.deepcopy(model)
    for name, module in list(quantized.named_modules()):
        if not name.startswith("encoder.layer."):
            continue
        linears = {child: layer for child, layer in module.named_children() if isinstance(layer, torch.nn.Linear)}
        shared = RowQuantizer(readers=3) if {"query", "key", "value"} <= linears.keys() else None
        for child, linear in linears.items():
            setattr(module, child, Int8Linear(linear, shared if child in ("query", "key", "value") else None))
    return quantized
