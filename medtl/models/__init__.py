"""Encoders (registry, pretrained weight sources, adaptation), heads and model directories."""

from medtl.models.inference import predict_logits
from medtl.models.io import LoadedModel, load_model_dir, save_model_dir
from medtl.models.model import MedtlModel, ModelConfig, build_model
from medtl.models.registry import Encoder, PretrainedConfig, create_encoder, list_encoders, register_encoder

__all__ = ["Encoder", "PretrainedConfig", "create_encoder", "list_encoders", "register_encoder",
           "LoadedModel", "MedtlModel", "ModelConfig", "build_model", "load_model_dir", "predict_logits",
           "save_model_dir"]
