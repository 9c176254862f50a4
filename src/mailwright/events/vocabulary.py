"""The event vocabulary: Segment's e-commerce v2 names, Mailwright's own, and what each one touches."""

# Segment e-commerce spec v2 (https://segment.com/docs/connections/spec/ecommerce/v2/).
PRODUCTS_SEARCHED = "Products Searched"
PRODUCT_LIST_VIEWED = "Product List Viewed"
PRODUCT_CLICKED = "Product Clicked"
PRODUCT_VIEWED = "Product Viewed"
PRODUCT_ADDED = "Product Added"
PRODUCT_REMOVED = "Product Removed"
CART_VIEWED = "Cart Viewed"
CHECKOUT_STARTED = "Checkout Started"
CHECKOUT_STEP_VIEWED = "Checkout Step Viewed"
CHECKOUT_STEP_COMPLETED = "Checkout Step Completed"
PAYMENT_INFO_ENTERED = "Payment Info Entered"
ORDER_UPDATED = "Order Updated"
ORDER_COMPLETED = "Order Completed"
ORDER_REFUNDED = "Order Refunded"
ORDER_CANCELLED = "Order Cancelled"
COUPON_APPLIED = "Coupon Applied"
PRODUCT_ADDED_TO_WISHLIST = "Product Added to Wishlist"
PRODUCT_REVIEWED = "Product Reviewed"

# Non-track calls are stored under these names.
IDENTIFY = "Identify"
PAGE_VIEWED = "Page Viewed"
SCREEN_VIEWED = "Screen Viewed"
ALIAS = "Alias"

# Mailwright's own events (written by later domains through the same path).
EMAIL_SENT = "Email Sent"
EMAIL_OPENED = "Email Opened"
EMAIL_CLICKED = "Email Clicked"
EMAIL_BOUNCED = "Email Bounced"
UNSUBSCRIBED = "Unsubscribed"
SUBSCRIBED = "Subscribed"
MARKED_AS_SPAM = "Marked as Spam"
CUSTOMER_REDACTED = "Customer Redacted"

ECOMMERCE_EVENTS = frozenset(
    {
        PRODUCTS_SEARCHED,
        PRODUCT_LIST_VIEWED,
        PRODUCT_CLICKED,
        PRODUCT_VIEWED,
        PRODUCT_ADDED,
        PRODUCT_REMOVED,
        CART_VIEWED,
        CHECKOUT_STARTED,
        CHECKOUT_STEP_VIEWED,
        CHECKOUT_STEP_COMPLETED,
        PAYMENT_INFO_ENTERED,
        ORDER_UPDATED,
        ORDER_COMPLETED,
        ORDER_REFUNDED,
        ORDER_CANCELLED,
        COUPON_APPLIED,
        PRODUCT_ADDED_TO_WISHLIST,
        PRODUCT_REVIEWED,
    }
)

# Events that are the shopper on the site: they move `last_site_activity_at`.
SITE_ACTIVITY_EVENTS = ECOMMERCE_EVENTS - {ORDER_REFUNDED, ORDER_CANCELLED} | {PAGE_VIEWED, SCREEN_VIEWED}

# Events whose properties describe one product at the top level.
SINGLE_PRODUCT_EVENTS = frozenset(
    {PRODUCT_CLICKED, PRODUCT_VIEWED, PRODUCT_ADDED, PRODUCT_REMOVED, PRODUCT_ADDED_TO_WISHLIST}
)
# Events whose properties carry a `products` array.
PRODUCT_LIST_EVENTS = frozenset(
    {PRODUCT_LIST_VIEWED, CART_VIEWED, CHECKOUT_STARTED, ORDER_UPDATED, ORDER_COMPLETED, ORDER_REFUNDED}
)


def is_known(name: str) -> bool:
    """Whether Mailwright understands this event name (others are stored as custom events)."""
    return name in ECOMMERCE_EVENTS or name in {
        IDENTIFY,
        PAGE_VIEWED,
        SCREEN_VIEWED,
        ALIAS,
        EMAIL_SENT,
        EMAIL_OPENED,
        EMAIL_CLICKED,
        EMAIL_BOUNCED,
        UNSUBSCRIBED,
        SUBSCRIBED,
        MARKED_AS_SPAM,
        CUSTOMER_REDACTED,
    }
