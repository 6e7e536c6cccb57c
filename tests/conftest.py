import pytest


@pytest.fixture(scope="session")
def vgg16():
    """The VGG-16 sample (138M parameters): built once per test session."""
    from onnxcost.samples import vgg16 as build

    return build()
