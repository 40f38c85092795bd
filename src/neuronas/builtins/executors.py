"""Built-in executors: score candidate groups in this process, in a local process pool, or on Ray.

Every executor yields results in the order of its items, each as soon as it and all before it are done,
so the evaluator journals records in candidate order while the rest are still being scored. Scores do
not depend on the executor: a group's result is a function of the group alone.

Worker processes (``process``, ``ray``) find components through the installed plugins (built-ins and
``neuronas`` entry points). A plugin registered from Python at run time exists only in the process that
registered it; a worker that cannot find a component raises ``WorkerComponentError`` naming it.
"""

from __future__ import annotations

import collections
import concurrent.futures
import ctypes
import hashlib
import multiprocessing
import os
import pickle
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from neuronas.errors import NeuronasError, UnknownComponentError, UsageError
from neuronas.plugin import get_host, hookimpl

#: The run folder's own command is added by the search (`neuronas.search.run_folder.resume_hint`).
RESUME_HINT = "every result journaled before it is kept, and --resume continues the run"


class ExecutorError(NeuronasError):
    """A worker died or the pool broke while scoring; the run can be resumed."""


class WorkerComponentError(UsageError):
    """A worker process could not find a component the parent process uses."""


class RemoteError(NeuronasError):
    """An error from a worker that cannot travel between processes as itself (its text is kept)."""


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one, as in containers)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _portable(error: BaseException) -> BaseException:
    """``error`` itself if it survives pickling; otherwise an error that does, with the same text."""
    if isinstance(error, UnknownComponentError):
        return WorkerComponentError(
            f"a worker process cannot find {error.kind} {error.name!r}: workers load only installed "
            "plugins (built-ins and 'neuronas' entry points), not ones registered from Python at "
            "run time; install the plugin as a package or use --executor local"
        )
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        portable = RemoteError(f"{type(error).__name__}: {error}")
        portable.exit_code = getattr(error, "exit_code", RemoteError.exit_code)
        return portable
    return error


def call_portably(fn: Callable[[Any], Any], item: Any) -> Any:
    """``fn(item)``, raising only errors that can be sent back to the parent process."""
    try:
        return fn(item)
    except Exception as error:
        raise _portable(error) from None


def _name_run_time_plugins(error: WorkerComponentError) -> WorkerComponentError:
    """Add the plugins registered from Python in this process (which workers lack) to ``error``."""
    names = [info.name for info in get_host().infos.values() if info.source == "python"]
    if names:
        error.args = (f"{error} (run-time plugins here: {', '.join(names)})",)
    return error


class LocalExecutor:
    """In-process scoring with ``workers`` torch threads.

    One thread is the default: on the small networks of a CPU search a second intra-op thread costs
    more than it gains (measured 5x slower on a busy 2-core machine); two processes
    (``--executor process --workers 2``) use two cores better than two threads.
    """

    name = "local"
    description = (
        "Score candidates one after another in this process, with --workers torch threads."
    )
    #: results are consumed here, so a generator that ``fn`` returns is iterated lazily and every
    #: candidate of a group reaches the journal as soon as it is scored
    in_process = True

    def map(
        self, fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 1
    ) -> Iterator[Any]:
        import torch

        previous = torch.get_num_threads()
        try:
            for item in items:
                torch.set_num_threads(workers)
                yield fn(item)
        finally:
            torch.set_num_threads(previous)


# --- process pool --------------------------------------------------------------------------------

#: imported once by the fork server (which never runs torch), so each worker starts in a moment
FORKSERVER_PRELOAD = ["torch", "neuronas.plugin", "neuronas.builtins.executors"]

PARENT_CHECK_S = 0.5
PR_SET_PDEATHSIG = 1  # linux/prctl.h

_worker_fn: Callable[[Any], Any] | None = None
_worker_setup_error: BaseException | None = None


def _die_with_parent_process() -> None:
    """Linux: have the kernel kill this worker the moment the process that forked it dies (the
    fork server, which itself ends when the search's process is gone)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the polling thread below still ends it
        pass


def _exit_with(parent: int) -> None:
    """Exit when ``parent`` is gone: a killed parent leaves its idle workers waiting forever."""
    while True:
        time.sleep(PARENT_CHECK_S)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(1)


def _init_process_worker(payload: bytes, threads: int, parent: int, counter: Any) -> None:
    """Set the worker's torch threads and GPU, unpickle ``fn`` once; keep a failure for the first
    task.

    Worker k of a machine with G GPUs makes GPU k mod G its current device, so a scorer on
    ``cuda`` uses one GPU per worker. Raising here would make the pool restart the worker forever,
    so the error waits for a task. The parent handles Ctrl-C, so workers ignore it instead of
    printing a traceback each.
    """
    global _worker_fn, _worker_setup_error
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent_process()
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    try:
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        if torch.cuda.is_available():
            torch.cuda.set_device(index % torch.cuda.device_count())
        _worker_fn = pickle.loads(payload)
    except Exception as error:
        _worker_setup_error = _portable(error)


def _run_process_task(item: Any) -> Any:
    if _worker_setup_error is not None:
        raise _worker_setup_error
    assert _worker_fn is not None
    return call_portably(_worker_fn, item)


class ProcessExecutor:
    """A pool of worker processes on this machine.

    Started by ``forkserver`` where the OS has it, else ``spawn``; never ``fork``: a forked child of a
    process that has run torch can deadlock in OpenMP. The fork server imports torch but runs nothing.
    ``fn`` is pickled once per worker (pool initializer), not per task; the pool is kept for the next
    ``map`` with the same ``fn`` and worker count (both phases of a two-phase search share it).
    A worker that dies fails the search with ``ExecutorError``; what was journaled is kept, and the
    run resumes where it stopped.
    """

    name = "process"
    description = "Score candidate groups in a pool of worker processes (--workers N)."

    def __init__(self, start_method: str | None = None) -> None:
        methods = multiprocessing.get_all_start_methods()
        self.start_method = start_method or ("forkserver" if "forkserver" in methods else "spawn")
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._pool_key: tuple[int, bytes] | None = None
        self._finalizer: weakref.finalize | None = None

    def threads_per_worker(self, workers: int) -> int:
        return max(1, available_cpus() // workers)

    def _pool_for(self, payload: bytes, workers: int) -> concurrent.futures.ProcessPoolExecutor:
        key = (workers, hashlib.sha256(payload).digest())
        if self._pool is None or self._pool_key != key:
            self.close()
            context = multiprocessing.get_context(self.start_method)
            if self.start_method == "forkserver":
                context.set_forkserver_preload(FORKSERVER_PRELOAD)
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_init_process_worker,
                initargs=(
                    payload,
                    self.threads_per_worker(workers),
                    os.getpid(),
                    context.Value("i", 0),
                ),
            )
            self._pool_key = key
            self._finalizer = weakref.finalize(self, _terminate_pool, self._pool)
        return self._pool

    def map(
        self, fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 1
    ) -> Iterator[Any]:
        items = list(items)
        if not items:
            return
        pool = self._pool_for(pickle.dumps(fn), max(1, workers))
        futures = [pool.submit(_run_process_task, item) for item in items]
        try:
            for future in futures:
                yield future.result()
        except BrokenProcessPool:
            self.close()
            raise ExecutorError(
                f"a worker process of the process executor died while scoring; {RESUME_HINT}"
            ) from None
        except WorkerComponentError as error:
            raise _name_run_time_plugins(error) from None
        except (KeyboardInterrupt, SystemExit):
            self.close()
            raise
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        """Stop the worker processes now (running tasks are abandoned)."""
        if self._finalizer is not None:
            self._finalizer()
        self._pool = None
        self._pool_key = None
        self._finalizer = None


def _terminate_pool(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Shut the pool down without waiting for running tasks: kill its workers, then join them.

    ``shutdown(wait=False)`` alone would leave a long task running until the interpreter exits.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)


# --- Ray -----------------------------------------------------------------------------------------

_ray_fns: dict[str, Callable[[Any], Any]] = {}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(
            "the ray executor needs Ray: pip install 'neuronas[ray]' (or pip install ray)"
        ) from None
    return ray


def _run_ray_task(fn_holder: list[Any], item: Any, threads: int) -> Any:
    """One group on a Ray worker; ``fn`` is fetched and unpickled once per worker process.

    ``fn_holder`` wraps the object reference in a list so that Ray passes the reference itself.
    """
    import ray
    import torch

    torch.set_num_threads(threads)
    (reference,) = fn_holder
    key = reference.hex()
    if key not in _ray_fns:
        _ray_fns.clear()
        _ray_fns[key] = ray.get(reference)
    return call_portably(_ray_fns[key], item)


def wants_gpu(fn: Callable[[Any], Any]) -> bool:
    """Whether ``fn`` (a scorer's method, whose settings say its device, or an object with a
    ``device``) runs on a CUDA device."""
    owner = getattr(fn, "__self__", fn)
    settings = getattr(owner, "settings", owner)
    return str(getattr(settings, "device", "cpu")).startswith("cuda")


def _env_float(name: str) -> float | None:
    value = os.environ.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"{name}={value!r} is not a number") from None


class RayExecutor:
    """One Ray task per candidate group, on the cluster at ``address`` or a local one.

    ``address``: a Ray address; default ``RAY_ADDRESS`` if set, else a local cluster started here
    (its workers get this process's ``sys.path``, as spawned processes do). ``cpus_per_task``
    (``NEURONAS_RAY_CPUS_PER_TASK``, default 1) is also the task's torch thread count;
    ``gpus_per_task`` (``NEURONAS_RAY_GPUS_PER_TASK``, default 1 when the scorer runs on ``cuda``
    and the cluster has GPUs, else 0; may be a fraction). Ray makes the reserved GPU the task's only
    visible one, so ``cuda`` there is that GPU. A task whose worker dies is retried by Ray up to ``max_retries`` times; errors
    raised by the scorer itself are not retried (they would happen again).
    """

    name = "ray"
    description = "Score candidate groups as Ray tasks on a cluster (RAY_ADDRESS) or a local one."

    def __init__(
        self,
        address: str | None = None,
        cpus_per_task: float | None = None,
        gpus_per_task: float | None = None,
        max_retries: int = 3,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        self.address = address
        self.cpus_per_task = cpus_per_task
        self.gpus_per_task = gpus_per_task
        self.max_retries = max_retries
        self.init_options = dict(init_options or {})
        self._started_cluster = False

    def _connect(self, ray: Any) -> None:
        if ray.is_initialized():
            return
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        options = dict(self.init_options)
        if address is None:
            import sys

            path = os.pathsep.join(p for p in sys.path if p)
            options.setdefault("runtime_env", {"env_vars": {"PYTHONPATH": path}})
            options.setdefault("include_dashboard", False)
        ray.init(address=address, **options)
        self._started_cluster = address is None

    def task_resources(self, ray: Any, wants_gpu: bool = False) -> tuple[float, float]:
        """(CPUs, GPUs) each task requests: a GPU only for work that runs on one."""
        cpus = self.cpus_per_task or _env_float("NEURONAS_RAY_CPUS_PER_TASK") or 1.0
        gpus = self.gpus_per_task
        if gpus is None:
            gpus = _env_float("NEURONAS_RAY_GPUS_PER_TASK")
        if gpus is None:
            gpus = 1.0 if wants_gpu and ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
        return cpus, gpus

    def in_flight(self, ray: Any, workers: int, cpus: float, gpus: float) -> int:
        """Tasks kept submitted: ``workers`` if more than 1, else as many as the cluster can run."""
        if workers > 1:
            return workers
        resources = ray.cluster_resources()
        slots = resources.get("CPU", 1) // cpus
        if gpus > 0:
            slots = min(slots, resources.get("GPU", 0) // gpus)
        return max(1, int(slots))

    def map(
        self, fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 1
    ) -> Iterator[Any]:
        items = list(items)
        if not items:
            return
        ray = _import_ray()
        self._connect(ray)
        cpus, gpus = self.task_resources(ray, wants_gpu(fn))
        task = ray.remote(_run_ray_task).options(
            num_cpus=cpus, num_gpus=gpus, max_retries=self.max_retries, retry_exceptions=False
        )
        holder = [ray.put(fn)]
        threads = max(1, int(cpus))
        window = self.in_flight(ray, workers, cpus, gpus)
        pending: collections.deque[Any] = collections.deque()
        remaining = iter(items)

        def top_up() -> None:
            for item in remaining:
                pending.append(task.remote(holder, item, threads))
                if len(pending) >= window:
                    return

        top_up()
        try:
            while pending:
                result = self._get(ray, pending.popleft())
                top_up()
                yield result
        finally:
            # cancel only tasks not yet finished: Ray aborts the driver on some cancels of those
            if pending:
                _, unfinished = ray.wait(list(pending), num_returns=len(pending), timeout=0)
                for reference in unfinished:
                    ray.cancel(reference)

    def _get(self, ray: Any, reference: Any) -> Any:
        try:
            return ray.get(reference)
        except ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None)
            if isinstance(cause, WorkerComponentError):
                raise _name_run_time_plugins(cause) from None
            if isinstance(cause, NeuronasError):
                raise cause from None
            raise
        except ray.exceptions.RayError as error:
            raise ExecutorError(
                f"a Ray task failed after {self.max_retries} retries "
                f"({type(error).__name__}); {RESUME_HINT}"
            ) from None

    def close(self) -> None:
        """Shut down the local cluster this executor started (a remote one is left running)."""
        if self._started_cluster:
            _import_ray().shutdown()
            self._started_cluster = False


@hookimpl
def neuronas_register_executors(register):
    register(LocalExecutor())
    register(ProcessExecutor())
    register(RayExecutor())
