"""nbgrader's Execute, made to survive a cell that kills the kernel, will not stop, or runs
out of memory.

Such a cell gets an error output that says what happened (so it scores like any failing
cell); the kernel is restarted, the cells that ran before it are run again quietly to
rebuild the namespace, and grading goes on with the next cell. One broken cell costs its
own points, not every cell after it. Each event is appended to the file named by
$DNNLABS_GRADING_EVENTS so that the grader's report can say what happened.
"""

from __future__ import annotations

import asyncio
import os
import queue
import time

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute

from autograder.grading_kernel import JailedKernelManager

EVENTS_ENV = "DNNLABS_GRADING_EVENTS"
PROBE_SECONDS = 3


class ResilientExecute(Execute):
    """Execute that restarts a dead or stuck kernel and replays the cells that ran before.

    Its kernels are started by JailedKernelManager (jailed, with the grading payload); the
    shared socket folder is sealed as soon as each kernel answers, before any student cell.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", JailedKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._completed: list[str] = []
        return super().preprocess(nb, resources, km)

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        self.km.seal()
        return client

    async def async_execute_cell(self, cell: NotebookNode, cell_index: int,
                                 execution_count: int | None = None,
                                 store_history: bool = True) -> NotebookNode:
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        try:
            await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            cell.outputs.append(_error("KernelDied", "the kernel died while running this cell "
                                       "(killed, out of memory or os._exit); it was restarted and "
                                       "the cells above were run again"))
            cell["execution_count"] = execution_count
            self._event(f"cell {cell_index}: the kernel died; restarted")
            await self._restart_and_replay()
            return cell
        except CellTimeoutError:
            cell.outputs.append(_error("CellTimeoutError", f"this cell ran longer than {self.timeout} s "
                                       "while graded and ignored the interrupt; the kernel was "
                                       "restarted and the cells above were run again"))
            cell["execution_count"] = execution_count
            self._event(f"cell {cell_index}: stopped after {self.timeout} s; the kernel ignored the "
                        "interrupt; restarted")
            await self._restart_and_replay()
            return cell
        if _timed_out(cell):
            self._event(f"cell {cell_index}: stopped after {self.timeout} s")
            if not await self._responsive():
                self._event(f"cell {cell_index}: the kernel ignored the interrupt; restarted")
                await self._restart_and_replay()
            return cell
        if _out_of_memory(cell):
            self._event(f"cell {cell_index}: ran out of memory; restarted to free it")
            await self._restart_and_replay()
            return cell
        self._completed.append(cell.source)
        return cell

    execute_cell = run_sync(async_execute_cell)

    async def _responsive(self) -> bool:
        msg_id = await ensure_async(self.kc.kernel_info())
        return await self._reply(msg_id, PROBE_SECONDS) is not None

    async def _restart_and_replay(self) -> None:
        self.km.open_shared()
        await ensure_async(self.km.restart_kernel(now=True))
        await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))
        self.km.seal()
        for source in self._completed:
            msg_id = await ensure_async(self.kc.execute(source, store_history=False, stop_on_error=False))
            if await self._reply(msg_id, self.timeout) is None:
                self._event("replaying the cells above failed; later cells may fail too")
                return

    async def _reply(self, msg_id: str, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                wait = min(1.0, deadline - time.monotonic())
                msg = await ensure_async(self.kc.get_shell_msg(timeout=wait))
            except (queue.Empty, asyncio.TimeoutError):
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg
        return None

    def _event(self, text: str) -> None:
        self.log.warning(text)
        path = os.environ.get(EVENTS_ENV)
        if path:
            with open(path, "a", encoding="utf-8") as events:
                events.write(text + "\n")


def _timed_out(cell: NotebookNode) -> bool:
    return any(output.get("output_type") == "error" and output.get("ename") == "CellTimeoutError"
               for output in cell.outputs)


def _out_of_memory(cell: NotebookNode) -> bool:
    """A MemoryError (or PyTorch's allocator giving up): what it grabbed may still be referenced."""
    return any(output.get("output_type") == "error"
               and (output.get("ename") == "MemoryError"
                    or "can't allocate memory" in output.get("evalue", ""))
               for output in cell.outputs)


def _error(name: str, value: str) -> NotebookNode:
    return new_output("error", ename=name, evalue=value, traceback=[f"{name}: {value}"])
