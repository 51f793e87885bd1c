"""The data plane end to end, with the fake engine: single images that wait for the model share its calls."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from tests.service.fakes import WARM_UP_CALLS
from tests.service.harness import serving, upload
from tests.service.sample_images import encode


def _grey_png(level: int) -> bytes:
    return encode(Image.new("RGB", (64, 64), (level, level, level)), "PNG")


def _until(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_images_waiting_for_a_busy_model_share_one_call_and_each_gets_its_own_answer(make_settings):
    levels = [51, 102, 153, 204]  # the fake engine's melanoma probability is the brightness / 255
    with serving(make_settings(inference_concurrency=1)) as running, ThreadPoolExecutor(len(levels)) as pool:
        engine = running.engine
        engine.hold = threading.Event()

        def post(level: int) -> dict:
            response = running.client.post("/predict", files=upload(_grey_png(level)))
            assert response.status_code == 200, response.text
            return response.json()

        first = pool.submit(post, levels[0])
        _until(lambda: len(engine.calls) == WARM_UP_CALLS + 1)  # the only lane holds the first image
        waiting = [pool.submit(post, level) for level in levels[1:]]
        _until(lambda: running.client.app.state.dataplane.images_waiting == 3)  # decoded, queued for the lane
        engine.hold.set()
        answers = [first.result(), *(future.result() for future in waiting)]
    assert [len(call) for call in engine.calls[WARM_UP_CALLS:]] == [1, 3], "the three waiting images in one call"
    for level, answer in zip(levels, answers, strict=True):
        melanoma = next(d["probability"] for d in answer["differential"] if d["code"] == "mel")
        assert abs(melanoma - level / 255) < 1e-6, "each request reads its own row of the shared call"
