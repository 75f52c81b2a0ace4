"""The encoder's forward pass without computing padding in its linear layers.

A batch of windows of different lengths is padded to its longest one, and the plain transformers
forward pass multiplies every padded position through every linear layer. Those layers are most
of an encoder's work (about 70 % of a short-post batch in bfloat16) and they treat each token on
its own, so here they run on the real tokens only, laid end to end; only attention, which mixes
tokens within a window, sees the padded layout, and its mask keeps padding out of it exactly as
in the plain pass. The model's own modules do every step, so bfloat16 autocast applies unchanged
(int8 layers, int8.py, would too, but int8 runs the plain pass: not measured with this one).

It reads a BERT-shaped transformers model (both base encoders are) in inference only: no dropout,
no cross-attention, no cache. `matches_plain_forward` is the start-up guard: a model of another
shape is run the plain way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def last_hidden_state(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The model's last hidden state for padded `ids` (batch, width), as `model(...).last_hidden_state`
    gives it at real positions; padded positions are zero."""
    from transformers.masking_utils import create_bidirectional_mask

    batch, width = ids.shape
    real = mask.reshape(-1).nonzero().squeeze(1)
    embedded = model.embeddings(input_ids=ids)
    attention = create_bidirectional_mask(config=model.config, inputs_embeds=embedded, attention_mask=mask)
    hidden = embedded.reshape(batch * width, -1)[real]
    for layer in model.encoder.layer:
        hidden = _layer(layer, hidden, attention, real, batch, width)
    return _padded(hidden, real, batch, width)


def _layer(
    layer: Any, hidden: torch.Tensor, attention: Any, real: torch.Tensor, batch: int, width: int
) -> torch.Tensor:
    import torch

    heads = layer.attention.self
    query, key, value = (
        _padded(part(hidden), real, batch, width).reshape(batch, width, -1, heads.attention_head_size).transpose(1, 2)
        for part in (heads.query, heads.key, heads.value)
    )
    mixed = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention, dropout_p=0.0, scale=heads.scaling, is_causal=False
    )
    mixed = mixed.transpose(1, 2).reshape(batch * width, -1)[real]
    attended = layer.attention.output(mixed, hidden)
    return layer.output(layer.intermediate(attended), attended)  # type: ignore[no-any-return]


def _padded(rows: torch.Tensor, real: torch.Tensor, batch: int, width: int) -> torch.Tensor:
    """Real-token rows (tokens, features) laid back into (batch, width, features), zeros at padding."""
    import torch

    padded = torch.zeros((batch * width, rows.shape[-1]), dtype=rows.dtype)
    padded[real] = rows
    return padded.reshape(batch, width, -1)


def matches_plain_forward(model: Any) -> bool:
    """Whether the model is the BERT shape this pass reads (transformers' BertModel, SDPA attention,
    no decoder parts): otherwise the caller runs the plain forward pass."""
    config = getattr(model, "config", None)
    return bool(
        config is not None
        and type(model).__name__ == "BertModel"
        and not getattr(config, "is_decoder", False)
        and not getattr(config, "add_cross_attention", False)
        and getattr(config, "_attn_implementation", None) == "sdpa"
        and not getattr(config, "chunk_size_feed_forward", 0)
    )
