# The grader's image for a cluster (deploy/kubernetes/, or Apptainer on Slurm):
#   docker build -t dnnlabs-autograder .
#   docker run --rm dnnlabs-autograder grade --help
# The project is installed as `make install` does it (its venv, PyTorch pinned, bubblewrap for
# the students' kernels); TORCH picks the CPU build of that PyTorch, since grading runs on CPUs.
FROM python:3.11-slim-bookworm

ARG TORCH="torch==2.14.1 torchvision==0.29.1 --extra-index-url https://download.pytorch.org/whl/cpu"
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1

RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends make bubblewrap util-linux \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/dnnlabs
COPY . .
RUN make install PYTHON=python3 TORCH="$TORCH"

ENV PATH=/opt/dnnlabs/.venv/bin:$PATH
ENTRYPOINT ["autograder"]
CMD ["--help"]
