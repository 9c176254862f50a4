"""What a template can read: contact, event, recommendations, shop, message, and block labels."""

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.orm import Session

from mailwright.catalog import service as catalog
from mailwright.catalog.schemas import ProductOut
from mailwright.contacts.schemas import ContactOut
from mailwright.core.errors import NotFound
from mailwright.core.settings import Settings
from mailwright.orders import service as orders


class ShopBranding(BaseSettings):
    """The shop's look and legal footer, read from MAILWRIGHT_SHOP_* variables."""

    model_config = SettingsConfigDict(env_prefix="MAILWRIGHT_SHOP_", env_file=".env", extra="ignore")

    logo_url: str | None = None
    # Dark enough for white button text at WCAG AA (contrast 6.9:1).
    brand_color: str = "#1d5a85"
    postal_address: str = "1 Market Street, London EC1A 1AA, United Kingdom"
    support_email: str = "support@example.com"
    website_url: str = "https://shop.example.com"


def shop_context(settings: Settings, branding: ShopBranding | None = None) -> dict[str, Any]:
    """The `shop` variable: name, logo, brand colour, postal address, support email, site."""
    brand = branding or ShopBranding(_env_file=None)
    return {
        "name": settings.shop_name,
        "currency": settings.shop_currency,
        "default_locale": settings.default_locale,
        "logo_url": brand.logo_url,
        "brand_color": brand.brand_color,
        "postal_address": brand.postal_address,
        "support_email": brand.support_email,
        "url": brand.website_url,
    }


def contact_context(contact: ContactOut) -> dict[str, Any]:
    """The `contact` variable: profile, roll-ups and custom properties (predictions when stored)."""
    data = contact.model_dump()
    data["name"] = " ".join(p for p in (contact.first_name, contact.last_name) if p) or None
    data["predictions"] = dict(contact.properties.get("predictions") or {})
    return data


def product_context(product: ProductOut) -> dict[str, Any]:
    """A catalog product as templates see it (prices in minor units: use `money_minor`)."""
    return {
        "id": product.external_id,
        "title": product.title,
        "url": product.url,
        "image_url": product.image_url,
        "price_minor": product.price_minor,
        "currency": product.currency,
        "categories": list(product.categories),
        "in_stock": product.in_stock,
    }


def message_context(
    *,
    unsubscribe_url: str,
    preferences_url: str | None = None,
    view_in_browser_url: str | None = None,
) -> dict[str, Any]:
    """The `message` variable: the links delivery signs for this one message."""
    return {
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url or unsubscribe_url,
        "view_in_browser_url": view_in_browser_url,
    }


class Recommender(Protocol):
    """Chooses products for contacts; predictions will provide a personal one."""

    def for_contacts(
        self, session: Session, contact_ids: Sequence[int], limit: int
    ) -> dict[int, list[dict[str, Any]]]:
        """Products per contact id, best first."""
        ...


class PersonalRecommender:
    """Each contact's own list from the last predictions run ("for you"), topped up with the best sellers.

    A contact the predictions have not scored (a new shop, a new subscriber) gets the best sellers alone.
    """

    KIND = "for_you"

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now

    def for_contacts(
        self, session: Session, contact_ids: Sequence[int], limit: int
    ) -> dict[int, list[dict[str, Any]]]:
        """Products per contact id, best first: personal picks, then best sellers not already picked."""
        stored = catalog.recommended_products(session, contact_ids, kind=self.KIND, limit=limit)
        popular: list[dict[str, Any]] | None = None
        out: dict[int, list[dict[str, Any]]] = {}
        for contact_id in contact_ids:
            picks = [product_context(p) for p in stored.get(contact_id, [])]
            if len(picks) < limit:
                if popular is None:
                    popular = cached_best_sellers(session, limit, self.now)
                have = {p["id"] for p in picks}
                picks += [p for p in popular if p["id"] not in have][: limit - len(picks)]
            out[contact_id] = picks
        return out


def cached_best_sellers(session: Session, limit: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """`best_sellers`, computed once per session (a sending batch): it aggregates order lines."""
    cache: dict[tuple[int, datetime | None], list[dict[str, Any]]] = session.info.setdefault(
        "best_sellers", {}
    )
    if (limit, now) not in cache:
        cache[(limit, now)] = best_sellers(session, limit, now)
    return cache[(limit, now)]


# What sells now, not what sold a year ago (a seasonal shop's December is not its June).
BEST_SELLER_DAYS = 90


def best_sellers(session: Session, limit: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """Best-selling in-stock products by units (of the last 90 days before `now`, if given), then the newest."""
    if now is not None:
        ranked = orders.best_selling(
            session,
            since=now - timedelta(days=BEST_SELLER_DAYS),
            until=now + timedelta(seconds=1),
            top=limit * 3,
        )
    else:
        ranked = [
            t.product_external_id
            for t in orders.summary(session, top=limit * 3).top_products
            if t.product_external_id
        ]
    chosen: list[dict[str, Any]] = []
    seen: set[str] = set()
    for external_id in ranked:
        if external_id in seen:
            continue
        try:
            product = catalog.get_product(session, external_id)
        except NotFound:
            continue
        if product.in_stock:
            chosen.append(product_context(product))
            seen.add(product.external_id)
        if len(chosen) >= limit:
            return chosen
    for product in catalog.list_products(session, limit=limit * 3):
        if len(chosen) >= limit:
            break
        if product.in_stock and product.external_id not in seen:
            chosen.append(product_context(product))
            seen.add(product.external_id)
    return chosen


# Labels the blocks print, per language; a template's own text lives in its language variant.
STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hi",
        "there": "there",
        "you_may_like": "Picked for you",
        "view_product": "View",
        "your_cart": "Your cart",
        "complete_purchase": "Complete your purchase",
        "quantity": "Qty",
        "subtotal": "Subtotal",
        "shipping": "Shipping",
        "tax": "Tax",
        "discount": "Discount",
        "total": "Total",
        "order": "Order",
        "your_code": "Your code",
        "expires": "Valid until",
        "review_prompt": "How did we do? Rate your purchase:",
        "write_review": "Write a review",
        "unsubscribe": "Unsubscribe",
        "preferences": "Email preferences",
        "view_in_browser": "View in your browser",
        "why_received": "You are receiving this email because you signed up at",
        "cta_new": "Explore new arrivals",
        "cta_cart": "Complete your purchase",
        "cta_customer": "Shop your favourites",
        "questions": "Questions? Write to",
    },
    "de": {
        "greeting": "Hallo",
        "there": "zusammen",
        "you_may_like": "Für dich ausgewählt",
        "view_product": "Ansehen",
        "your_cart": "Dein Warenkorb",
        "complete_purchase": "Kauf abschließen",
        "quantity": "Menge",
        "subtotal": "Zwischensumme",
        "shipping": "Versand",
        "tax": "MwSt.",
        "discount": "Rabatt",
        "total": "Gesamt",
        "order": "Bestellung",
        "your_code": "Dein Code",
        "expires": "Gültig bis",
        "review_prompt": "Wie zufrieden bist du? Bewerte deinen Einkauf:",
        "write_review": "Bewertung schreiben",
        "unsubscribe": "Abmelden",
        "preferences": "E-Mail-Einstellungen",
        "view_in_browser": "Im Browser ansehen",
        "why_received": "Du erhältst diese E-Mail, weil du dich angemeldet hast bei",
        "cta_new": "Neuheiten entdecken",
        "cta_cart": "Kauf abschließen",
        "cta_customer": "Deine Favoriten shoppen",
        "questions": "Fragen? Schreib an",
    },
    "pt": {
        "greeting": "Olá",
        "there": "",
        "you_may_like": "Escolhidos para você",
        "view_product": "Ver",
        "your_cart": "Seu carrinho",
        "complete_purchase": "Finalizar compra",
        "quantity": "Qtd.",
        "subtotal": "Subtotal",
        "shipping": "Frete",
        "tax": "Impostos",
        "discount": "Desconto",
        "total": "Total",
        "order": "Pedido",
        "your_code": "Seu código",
        "expires": "Válido até",
        "review_prompt": "O que achou? Avalie sua compra:",
        "write_review": "Escrever avaliação",
        "unsubscribe": "Cancelar inscrição",
        "preferences": "Preferências de e-mail",
        "view_in_browser": "Ver no navegador",
        "why_received": "Você recebe este e-mail porque se cadastrou em",
        "cta_new": "Conheça as novidades",
        "cta_cart": "Finalizar compra",
        "cta_customer": "Compre seus favoritos",
        "questions": "Dúvidas? Escreva para",
    },
}


def strings_for(locale: str) -> dict[str, str]:
    """Block labels for a locale (its language), English where a language has none."""
    language = locale.replace("_", "-").split("-", 1)[0].lower()
    return STRINGS.get(language, STRINGS["en"])


def build_context(
    *,
    contact: Mapping[str, Any],
    shop: Mapping[str, Any],
    message: Mapping[str, Any],
    variant_locale: str,
    event: Mapping[str, Any] | None = None,
    recommendations: Sequence[Mapping[str, Any]] = (),
    coupon_code: Callable[[str], str] | None = None,
    now: datetime,
) -> dict[str, Any]:
    """The full context of one recipient's render, with the locale and currency the filters use."""
    event_data = dict(event or {})
    locale = contact.get("locale") or variant_locale or shop.get("default_locale") or "en"
    currency = event_data.get("currency") or shop.get("currency") or "USD"
    return {
        "contact": contact,
        "event": event_data,
        "recommendations": list(recommendations),
        "shop": shop,
        "message": message,
        "t": strings_for(variant_locale),
        "locale": locale,
        "currency": str(currency).upper(),
        "timezone": contact.get("timezone") or "UTC",
        "coupon_code": coupon_code or preview_coupon_code,
        "now": now,
    }


def preview_coupon_code(pool: str) -> str:
    """A stand-in code for previews and checks: no code is taken from the pool."""
    return f"{pool.upper()}-PREVIEW"


SAMPLE_UNSUBSCRIBE_URL = "https://mailwright.invalid/u/sample-unsubscribe-token"


def sample_products() -> list[dict[str, Any]]:
    """Four plausible products for previews and save-time checks."""
    names = [("Linen shirt", 4900), ("Canvas tote", 2500), ("Wool beanie", 1900), ("Leather wallet", 5900)]
    return [
        {
            "id": f"sample-{i}",
            "title": title,
            "url": f"https://shop.example.com/products/sample-{i}",
            "image_url": f"https://shop.example.com/images/sample-{i}.jpg",
            "price_minor": price,
            "currency": None,
            "categories": ["sample"],
            "in_stock": True,
        }
        for i, (title, price) in enumerate(names, start=1)
    ]


def sample_event() -> dict[str, Any]:
    """A trigger event carrying every standard property (cart, checkout, order, viewed product)."""
    items = [
        {
            "product_id": p["id"],
            "name": p["title"],
            "price": p["price_minor"] / 100,
            "quantity": q,
            "url": p["url"],
            "image_url": p["image_url"],
        }
        for p, q in zip(sample_products()[:2], (1, 2), strict=True)
    ]
    subtotal = sum(i["price"] * i["quantity"] for i in items)
    return {
        "name": "Checkout Started",
        "order_id": "1001",
        "checkout_url": "https://shop.example.com/checkout/recover/sample",
        "cart_url": "https://shop.example.com/cart",
        "review_url": "https://shop.example.com/reviews/new?order=1001",
        "products": items,
        "product": items[0],
        "subtotal": subtotal,
        "shipping": 4.95,
        "tax": 0,
        "discount": 0,
        "total": subtotal + 4.95,
    }


def sample_contact(now: datetime) -> dict[str, Any]:
    """A contact with every profile field set, for save-time checks."""
    return {
        "id": 0,
        "email": "sample@example.com",
        "external_id": None,
        "first_name": "Alex",
        "last_name": "Sample",
        "name": "Alex Sample",
        "phone": None,
        "locale": None,
        "timezone": "UTC",
        "country": "GB",
        "city": "London",
        "currency": None,
        "birthday": None,
        "signup_source": "website",
        "consent_status": "subscribed",
        "consent_updated_at": now,
        "consent_source": "website",
        "properties": {},
        "predictions": {},
        "order_count": 2,
        "revenue_minor": 9800,
        "average_order_value_minor": 4900,
        "first_order_at": now,
        "last_order_at": now,
        "last_site_activity_at": now,
        "last_open_at": None,
        "last_click_at": None,
        "last_event_at": now,
        "created_at": now,
        "updated_at": now,
        "anonymous_ids": [],
    }
