import pytest
import torch


@pytest.fixture
def one_thread():
    """One torch thread (the CPU the recipes are sized for), restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
