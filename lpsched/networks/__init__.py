"""Network descriptions: layers with shapes and costs, built-in networks, network files."""

from .builtin import BUILTIN_NETWORKS, NetworkBuilder, builtin_options, get_network
from .io import load_network, network_from_dict, network_to_dict, save_network
from .layers import Layer, Network

__all__ = [
    "BUILTIN_NETWORKS",
    "Layer",
    "Network",
    "NetworkBuilder",
    "builtin_options",
    "get_network",
    "load_network",
    "network_from_dict",
    "network_to_dict",
    "save_network",
]
