"""Seeded fuzzing of the served models: malformed requests beside valid traffic.

wire.py       one request, and the JSON and multipart bodies written by hand
images.py     digit images, PNG chunk surgery, pixel and metadata bombs
fragments.py  hostile JSON pieces: deep nesting, huge numbers, NaN, bad Unicode
mutate.py     truncation and bit flips
family.py     a family of cases, and what shared families know of a model
families/     each model's families, and those every model gets (shared.py)
cases.py      the seeded generator: case i of seed s is the same request every run
valid.py      valid requests per model and the answers they must get
target.py     the server under test: send a request, read its workers' pids
server.py     a TorchServe of the fuzzer's own
run.py        the driver: cases and valid traffic at once, workers compared
report.py     counts by model, family and status; what fails the run
cli.py        ``python -m fuzz`` (``make fuzz``)
"""
