"""Model kinds. ``spec_from_dict({"kind": "linear", ...})`` builds a validated spec."""

from modelrepair.models.base import (
    FittedModel,
    ModelSpec,
    RepairSettings,
    model_kinds,
    register_model_kind,
    spec_from_dict,
)

__all__ = [
    "FittedModel",
    "ModelSpec",
    "RepairSettings",
    "model_kinds",
    "register_model_kind",
    "spec_from_dict",
]

_BUILTIN = ("linear", "twolayer", "random_features", "lasso", "cnn", "external")


def _load_builtin() -> None:
    """Import built-in kinds for their registration. torch-based kinds import torch lazily."""
    import importlib

    for mod in _BUILTIN:
        try:
            importlib.import_module(f"modelrepair.models.{mod}")
        except ModuleNotFoundError as err:
            if err.name != f"modelrepair.models.{mod}":
                raise
