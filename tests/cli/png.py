"""A check that a file is a PNG picture with something drawn on it."""

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_valid_nonblank_png(path):
    import matplotlib.image  # the plot extra; imported here so that importers need not have it

    with open(path, "rb") as stream:
        assert stream.read(8) == PNG_SIGNATURE, path
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    # Not one flat colour: something was drawn.
    assert pixels[..., :3].std() > 0.05, path
    assert len(np.unique(pixels[..., :3].reshape(-1, 3), axis=0)) > 10, path
