"""The kernel manager of grading: every kernel starts jailed and gets its payload by descriptor.

nbgrader's Execute starts and restarts kernels through this manager (see worker.py). At each
start it writes a fresh payload (protocol.payload) into an anonymous in-memory file, hands
that and the record channel to the kernel as inherited descriptors, and wraps the kernel's
command in the jail (sandbox.Jail). Interrupts travel as messages on the control channel:
a signal would stop the jail's outer process, not the kernel inside it.

The kernel's one host folder is the worker's runtime folder, where ipykernel binds its IPC
sockets. Once the kernel answers, `seal` makes that folder read-only to it, so a
submission cannot fill the grader's disk through it.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Integer, Unicode

from autograder import protocol, records
from autograder.sandbox import Jail


class JailedKernelManager(AsyncKernelManager):
    """AsyncKernelManager whose kernels run in the sandbox with the grading payload."""

    jail = Unicode("", help="The kernel's Jail as JSON; empty: unjailed (--no-sandbox)").tag(config=True)
    threads = Integer(1, help="CPU threads the kernel's math libraries may use").tag(config=True)
    shared = Unicode("", help="The one host folder the kernel sees: its IPC sockets and "
                              "connection file (the worker's private runtime folder)").tag(config=True)

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
        return spec

    def write_connection_file(self, **kwargs) -> None:
        if self.shared and not self.connection_file:
            self.connection_file = str(Path(self.shared) / "connection.json")
        super().write_connection_file(**kwargs)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw):
        channel = records.current()
        payload_fd = protocol.memory_file(
            "dnnlabs-payload", protocol.payload(channel.fd if channel else None))
        kw["pass_fds"] = (payload_fd,) + ((channel.fd,) if channel else ())
        variables = {protocol.PAYLOAD_FD_ENV: str(payload_fd)}
        try:
            if self.jail:
                kernel_cmd = self._jailed(kernel_cmd, variables)
                kw["env"] = {}
            else:
                kw["env"] = {**kw.get("env", os.environ), **protocol.GRADING_ENV, **variables,
                             "OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            os.close(payload_fd)

    def _jailed(self, kernel_cmd: list[str], variables: dict[str, str]) -> list[str]:
        if not self.shared:
            raise ValueError("A jailed kernel needs the shared folder of its sockets (shared).")
        jail = Jail.from_json(self.jail)
        if jail.uid is not None:
            os.chown(self.connection_file, jail.uid, jail.uid)
        self.open_shared()
        env = {**protocol.kernel_environment(self.threads, Path(kernel_cmd[0]).parent), **variables}
        return jail.command(kernel_cmd, shared=Path(self.shared), env=env)

    def open_shared(self) -> None:
        """Let the kernel create its sockets in the shared folder (before a start)."""
        if self.jail and self.shared:
            Path(self.shared).chmod(0o777)

    def seal(self) -> None:
        """Make the shared folder read-only to the kernel (once it answers)."""
        if self.jail and self.shared:
            Path(self.shared).chmod(0o755)
