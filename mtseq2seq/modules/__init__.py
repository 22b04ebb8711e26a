"""Encoder and decoder families, and heads. Built-in types are imported here explicitly, which
registers them."""
from . import facts, features, heads, rnn, transformer  # registers built-in types
from .base import DECODERS, ENCODERS, HEADS, Decoder, Encoder, EncoderOutput, Head, State

__all__ = ["DECODERS", "ENCODERS", "HEADS", "Decoder", "Encoder", "EncoderOutput", "Head", "State",
           "facts", "features", "heads", "rnn", "transformer"]
