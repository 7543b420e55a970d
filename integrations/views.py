"""Admin pages for outbound webhooks: endpoints, their deliveries and the delivery log."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.accounts import audit
from core.auth import role_required
from core.db import db
from integrations.forms import EVENT_LABELS, STATE_LABELS, WebhookForm
from integrations.models import WebhookDelivery, WebhookEndpoint
from integrations.webhooks import redeliver

bp = Blueprint("integrations", __name__, url_prefix="/admin/webhooks")


@bp.route("", methods=["GET", "POST"])
@role_required("admin")
def endpoints():
    form = WebhookForm()
    if form.validate_on_submit():
        endpoint = WebhookEndpoint(url=form.url.data.strip(), description=form.description.data.strip(),
                                   event_types=form.event_types.data, created_by_id=current_user.id)
        db.session.add(endpoint)
        db.session.flush()
        audit("create_webhook", f"webhook:{endpoint.id}", url=endpoint.url, events=endpoint.event_types)
        db.session.commit()
        flash(_("Webhook endpoint added. Give its signing secret to the receiving system."), "success")
        return redirect(url_for(".endpoint", endpoint_id=endpoint.id)), 303
    items = db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
    return render_template("integrations/endpoints.html", form=form, items=items,
                           labels=EVENT_LABELS), 400 if form.errors else 200


@bp.get("/<int:endpoint_id>")
@role_required("admin")
def endpoint(endpoint_id: int):
    item = db.get_or_404(WebhookEndpoint, endpoint_id)
    deliveries = db.session.scalars(
        select(WebhookDelivery).options(selectinload(WebhookDelivery.event), selectinload(WebhookDelivery.log))
        .where(WebhookDelivery.endpoint_id == item.id).order_by(WebhookDelivery.id.desc()).limit(200)).all()
    return render_template("integrations/endpoint.html", item=item, deliveries=deliveries,
                           labels=EVENT_LABELS, states=STATE_LABELS)


@bp.post("/<int:endpoint_id>/toggle")
@role_required("admin")
def toggle(endpoint_id: int):
    item = db.get_or_404(WebhookEndpoint, endpoint_id)
    item.active = not item.active
    audit("enable_webhook" if item.active else "disable_webhook", f"webhook:{item.id}", url=item.url)
    db.session.commit()
    flash(_("Endpoint enabled.") if item.active else _("Endpoint disabled: new events are not sent to it."),
          "success")
    return redirect(url_for(".endpoint", endpoint_id=item.id)), 303


@bp.post("/deliveries/<int:delivery_id>/redeliver")
@role_required("admin")
def redeliver_one(delivery_id: int):
    delivery = db.get_or_404(WebhookDelivery, delivery_id)
    redeliver(delivery)
    audit("redeliver_webhook", f"webhook_delivery:{delivery.id}", event=delivery.event.uid)
    db.session.commit()
    flash(_("Queued for delivery again."), "success")
    return redirect(url_for(".endpoint", endpoint_id=delivery.endpoint_id)), 303
