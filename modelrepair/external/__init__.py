"""Networks trained elsewhere: file loaders (npz, CSV prefix, torch), exporters, and the
repairability diagnosis. The model kind itself is `modelrepair.models.external`."""

from modelrepair.external.diagnosis import Diagnosis, LayerDiagnosis, diagnose
from modelrepair.external.loaders import ExternalArrays, load_arrays

__all__ = ["Diagnosis", "ExternalArrays", "LayerDiagnosis", "diagnose", "load_arrays"]
