"""mtseq2seq: multi-task sequence-to-sequence learning with encoders and decoders keyed by slot."""
from .modules import DECODERS, ENCODERS, Decoder, Encoder, EncoderOutput
from .scheduler import SCHEDULERS, TaskScheduler

__version__ = "0.1.0"

register_encoder = ENCODERS.register
register_decoder = DECODERS.register
register_scheduler = SCHEDULERS.register

__all__ = [
    "Decoder", "DECODERS", "Encoder", "ENCODERS", "EncoderOutput",
    "register_decoder", "register_encoder", "register_scheduler", "SCHEDULERS", "TaskScheduler",
    "__version__",
]
