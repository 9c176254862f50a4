"""Campaign test fixtures: settings for scenarios, the shop, a fake sender."""

import pytest
from tests.campaigns.shop import Shop

from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery.senders import FakeSender


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Fake sender, no quiet hours or frequency cap (they are delivery's, tested there), small A/B samples."""
    return settings.model_copy(
        update={
            "sender": "fake",
            "quiet_hours_start": 0,
            "quiet_hours_end": 0,
            "frequency_cap_hours": 0,
            "campaign_ab_min_sample": 30,
            "campaign_batch_size": 50,
            "public_url": "https://shop.test",
        }
    )


@pytest.fixture
def shop(runtime: Runtime) -> Shop:
    return Shop(runtime)


@pytest.fixture
def fake_sender() -> FakeSender:
    return FakeSender()
