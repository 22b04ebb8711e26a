"""mtseq2seq: multi-task sequence-to-sequence learning with encoders and decoders keyed by slot."""
from .metrics import MetricResult, register_metric
from .modules import DECODERS, ENCODERS, HEADS, Decoder, Encoder, EncoderOutput, Head
from .scheduler import SCHEDULERS, TaskScheduler
from .tasks import KINDS, Task, TaskKind

__version__ = "0.1.0"

register_encoder = ENCODERS.register
register_decoder = DECODERS.register
register_head = HEADS.register
register_scheduler = SCHEDULERS.register
register_task_kind = KINDS.register

__all__ = [
    "Decoder", "DECODERS", "Encoder", "ENCODERS", "EncoderOutput", "Head", "HEADS", "KINDS",
    "MetricResult", "register_decoder", "register_encoder", "register_head", "register_metric",
    "register_scheduler", "register_task_kind", "SCHEDULERS", "Task", "TaskKind",
    "TaskScheduler", "__version__",
]
