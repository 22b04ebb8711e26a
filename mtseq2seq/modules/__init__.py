"""Encoder and decoder families. Built-in types are imported here explicitly, which registers them."""
from . import rnn, transformer  # registers built-in types
from .base import DECODERS, ENCODERS, Decoder, Encoder, EncoderOutput, State

__all__ = ["DECODERS", "ENCODERS", "Decoder", "Encoder", "EncoderOutput", "State", "rnn", "transformer"]
