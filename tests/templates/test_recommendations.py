"""Emails show each contact's own recommendations from the last predictions run, topped up with best sellers."""

from collections.abc import Callable

from mailwright.catalog import service as catalog
from mailwright.catalog.schemas import ContactRecommendationIn, ProductIn
from mailwright.core.runtime import Runtime
from mailwright.templates import service as templates
from mailwright.templates.context import PersonalRecommender


def _catalog(runtime: Runtime) -> dict[str, int]:
    with runtime.uow() as uow:
        catalog.upsert_products(
            uow.session,
            [
                ProductIn(
                    external_id=f"p{n}",
                    title=f"Product {n}",
                    url=f"https://shop.test/p{n}",
                    price_minor=1000 + n,
                    currency="EUR",
                    in_stock=n != 2,  # p2 sold out since the scoring run
                )
                for n in range(1, 8)
            ],
            uow.now(),
        )
        return {p.external_id: p.id for p in catalog.list_products(uow.session, limit=100)}


def test_a_contacts_own_list_comes_first_and_sold_out_items_are_passed_over(
    runtime: Runtime, make_contact: Callable[..., int]
) -> None:
    ids = _catalog(runtime)
    ann = make_contact("ann@example.com")
    new = make_contact("new@example.com")
    with runtime.uow() as uow:
        catalog.replace_contact_recommendations(
            uow.session,
            [
                ContactRecommendationIn(
                    contact_id=ann,
                    kind="for_you",
                    rank=rank,
                    product_id=ids[external],
                    strategy="als",
                    computed_at=uow.now(),
                    version="t",
                )
                for rank, external in enumerate(["p5", "p2", "p6"], start=1)
            ],
        )
    with runtime.uow() as uow:
        picks = PersonalRecommender().for_contacts(uow.session, [ann, new], 4)
    own = [p["id"] for p in picks[ann]]
    assert own[:2] == ["p5", "p6"]  # her list, without the sold-out p2
    assert len(own) == 4 and len(set(own)) == 4 and "p2" not in own
    # Someone the predictions never scored gets the shop's products (no orders yet: the newest in stock).
    assert len(picks[new]) == 4 and "p2" not in [p["id"] for p in picks[new]]
    with runtime.uow() as uow:
        templates.install_builtins(uow, runtime.settings)
        rendered = templates.preview(uow, "newsletter", "ann@example.com", runtime.settings)
    assert "Product 5" in rendered.html and "Product 6" in rendered.html and "Product 2" not in rendered.html
