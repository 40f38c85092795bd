"""Does the score find good networks? Proxy studies: score sampled architectures with several
training-free metrics, train them with several seeds, and measure how well each metric ranks them."""

from neuronas.study.config import DEFAULT_METRICS, StudyConfig
from neuronas.study.run import StudyObserver, report_study, run_study

__all__ = ["DEFAULT_METRICS", "StudyConfig", "StudyObserver", "report_study", "run_study"]
