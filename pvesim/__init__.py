"""pvesim: a Proxmox VE API simulator that unmodified clients (proxmoxer) cannot tell apart.

    async with Simulator() as sim: ...     # in-process, HTTPS on 127.0.0.1, free port
    SimulatorThread(...).start()           # in its own thread and loop
    python -m pvesim --port 8006           # in the foreground
"""

from .model import Cluster, Guest, Node, Storage, Task, Volume
from .scenario import ScenarioError, load_scenario
from .server import RequestRecord, Simulator, SimulatorThread

__all__ = ["Cluster", "Guest", "Node", "RequestRecord", "ScenarioError", "Simulator",
           "SimulatorThread", "Storage", "Task", "Volume", "load_scenario"]
