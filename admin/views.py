"""Admin pages: rules, staff, API keys, questionnaires, audit log."""
from __future__ import annotations

import yaml
from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from admin.forms import (
    INVITATION_CHANNEL_LABELS,
    SCOPE_LABELS,
    TICKET_KIND_LABELS,
    ApiKeyForm,
    CustomerLookupForm,
    EraseForm,
    QuestionnaireForm,
    RouteForm,
    RulesForm,
    UserForm,
)
from core.accounts import ApiKey, AuditEvent, User, audit, create_user, issue_api_key
from core.auth import role_required
from core.db import db, utcnow
from core.i18n import current_locale
from core.passwords import WeakPassword
from core.settings import get_rules, save_rules
from surveys.definition import DefinitionError, load_yaml
from surveys.models import Questionnaire, QuestionnaireRoute, QuestionnaireVersion
from surveys.services import import_questionnaire, set_route

bp = Blueprint("admin", __name__, url_prefix="/admin")


SECTIONS = (("admin.rules", _l("Rules"), _l("When invitations go out, callback deadlines, retries, escalation, report recipients.")),
            ("admin.questionnaires", _l("Questionnaires"), _l("The survey's questions, as versioned definitions.")),
            ("admin.users", _l("Staff"), _l("Accounts and roles of the people who use Huifang.")),
            ("admin.api_keys", _l("API keys"), _l("Keys for the systems that report tickets or read results.")),
            ("integrations.endpoints", _l("Webhooks"), _l("Addresses that receive events as they happen.")),
            ("admin.audit_log", _l("Audit log"), _l("Who did what, and when.")),
            ("admin.privacy", _l("Customer data requests"), _l("Export or erase one customer's data.")))


@bp.route("/")
@role_required("admin")
def index():
    """/admin/ itself: what each admin page is for."""
    return render_template("admin/index.html", sections=SECTIONS)


@bp.route("/rules", methods=["GET", "POST"])
@role_required("admin")
def rules():
    form = RulesForm()
    if form.validate_on_submit():
        changed = save_rules(form.to_rules())
        if changed:
            audit("change_rules", "rules", changes={k: [old, new] for k, (old, new) in changed.items()})
        db.session.commit()
        flash(_("Rules saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for(".rules")), 303
    if not form.is_submitted():
        form.load(get_rules())
    return render_template("admin/rules.html", form=form), 400 if form.errors else 200


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = create_user(form.email.data, form.name.data, form.role.data, form.password.data,
                               phone=form.phone.data or None)
            audit("create_user", f"user:{user.id}", role=user.role)
            db.session.commit()
            flash(_("Account created."), "success")
            return redirect(url_for(".users")), 303
        except WeakPassword as exc:
            form.password.errors.append(str(exc))
        except ValueError as exc:
            form.email.errors.append(str(exc))
    return render_template("admin/users.html", form=form,
                           users=db.session.scalars(select(User).order_by(User.email)).all())


@bp.post("/users/<int:user_id>/toggle")
@role_required("admin")
def toggle_user(user_id: int):
    user = db.get_or_404(User, user_id)
    if user.id == current_user.id:
        flash(_("You cannot deactivate yourself."), "error")
    else:
        user.active = not user.active
        user.revoke_sessions()  # a deactivated account's open sessions end at their next request
        audit("activate_user" if user.active else "deactivate_user", f"user:{user.id}")
        db.session.commit()
    return redirect(url_for(".users")), 303


@bp.post("/users/<int:user_id>/reset-second-factor")
@role_required("admin")
def reset_second_factor(user_id: int):
    """For a lost phone with no recovery codes left: the person enrols again at the next login."""
    from core.twofactor import reset_second_factor as reset
    user = db.get_or_404(User, user_id)
    reset(user)
    audit("reset_second_factor", f"user:{user.id}")
    db.session.commit()
    flash(_("Two-step login of %(email)s is reset: they set it up again at their next login.", email=user.email),
          "success")
    return redirect(url_for(".users")), 303


@bp.route("/api-keys", methods=["GET", "POST"])
@role_required("admin")
def api_keys():
    form = ApiKeyForm()
    secret = None
    if form.validate_on_submit():
        key, secret = issue_api_key(form.name.data, current_user, form.scopes.data)
        audit("create_api_key", f"api_key:{key.id}", name=key.name, scopes=key.scopes)
        db.session.commit()
    keys = db.session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())).all()
    return render_template("admin/api_keys.html", form=form, keys=keys, secret=secret,
                           scope_labels=SCOPE_LABELS)


@bp.post("/api-keys/<int:key_id>/revoke")
@role_required("admin")
def revoke_api_key(key_id: int):
    key = db.get_or_404(ApiKey, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit("revoke_api_key", f"api_key:{key.id}", name=key.name)
        db.session.commit()
        flash(_("Key revoked."), "success")
    return redirect(url_for(".api_keys")), 303


@bp.route("/questionnaires", methods=["GET", "POST"])
@role_required("admin")
def questionnaires():
    form = QuestionnaireForm()
    if form.validate_on_submit():
        try:
            version, created = import_questionnaire(load_yaml(form.definition.data))
            if created:
                audit("questionnaire_version", f"questionnaire:{version.questionnaire.key}",
                      version=version.number)
                db.session.commit()
            flash(_("Saved as version %(n)s.", n=version.number) if created else _("Nothing changed."), "success")
            return redirect(url_for(".questionnaires")), 303
        except DefinitionError as exc:
            db.session.rollback()
            form.definition.errors.append(exc.translated())
    items = db.session.scalars(select(Questionnaire).order_by(Questionnaire.key)).all()
    if not form.is_submitted() and items:
        latest = items[0].versions[-1]
        form.definition.data = yaml.safe_dump(latest.definition, allow_unicode=True, sort_keys=False)
    return render_template("admin/questionnaires.html", form=form, items=items), 400 if form.errors else 200


@bp.route("/questionnaires/routes", methods=["GET", "POST"])
@role_required("admin")
def questionnaire_routes():
    """Routing rules: the most specific matching rule chooses an invitation's questionnaire."""
    form = RouteForm()
    published = {v.questionnaire_id for v in db.session.scalars(
        select(QuestionnaireVersion).where(QuestionnaireVersion.published_at.is_not(None)))}
    form.questionnaire.choices = [(q.key, f"{q.title(current_locale())} ({q.key})")
                                  for q in db.session.scalars(select(Questionnaire).order_by(Questionnaire.key))
                                  if q.id in published]
    if form.validate_on_submit():
        set_route(form.ticket_kind.data, form.channel.data, form.questionnaire.data)
        audit("questionnaire_route", f"questionnaire:{form.questionnaire.data}",
              ticket_kind=form.ticket_kind.data, channel=form.channel.data)
        db.session.commit()
        flash(_("Routing rule saved."), "success")
        return redirect(url_for(".questionnaire_routes")), 303
    routes = db.session.scalars(select(QuestionnaireRoute).order_by(QuestionnaireRoute.ticket_kind,
                                                                    QuestionnaireRoute.channel)).all()
    return render_template("admin/questionnaire_routes.html", form=form, routes=routes,
                           default=get_rules()["questionnaire"], kinds=TICKET_KIND_LABELS,
                           channels=INVITATION_CHANNEL_LABELS), 400 if form.errors else 200


@bp.post("/questionnaires/routes/<int:route_id>/delete")
@role_required("admin")
def delete_questionnaire_route(route_id: int):
    route = db.get_or_404(QuestionnaireRoute, route_id)
    audit("questionnaire_route_deleted", f"questionnaire:{route.questionnaire.key}",
          ticket_kind=route.ticket_kind, channel=route.channel)
    db.session.delete(route)
    db.session.commit()
    flash(_("Routing rule removed."), "success")
    return redirect(url_for(".questionnaire_routes")), 303


@bp.route("/audit")
@role_required("admin")
def audit_log():
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(500)).all()
    names = {u.id: u.email for u in db.session.scalars(select(User))}
    return render_template("admin/audit.html", events=events, names=names)


@bp.route("/privacy", methods=["GET", "POST"])
@role_required("admin")
def privacy():
    """A customer's data on request: look up, then export or erase (PIPL arts. 45, 47)."""
    from admin.privacy import find_customer, summary
    form, customer = CustomerLookupForm(), None
    if form.validate_on_submit():
        customer = find_customer(form.reference.data)
        if customer is None:
            form.reference.errors.append(_("No customer has this ID or phone number."))
    return render_template("admin/privacy.html", form=form, customer=customer,
                           rows=summary(customer) if customer else [], erase=EraseForm()), \
        400 if form.errors else 200


@bp.post("/privacy/<int:customer_id>/export")
@role_required("admin")
def privacy_export(customer_id: int):
    from admin.privacy import export_customer
    from tickets.models import Customer
    customer = db.get_or_404(Customer, customer_id)
    return Response(export_customer(customer), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="customer-{customer.id}.zip"'})


@bp.post("/privacy/<int:customer_id>/erase")
@role_required("admin")
def privacy_erase(customer_id: int):
    from admin.privacy import erase_customer
    from tickets.models import Customer
    customer, form = db.get_or_404(Customer, customer_id), EraseForm()
    if not form.validate_on_submit() or form.confirm.data.strip() != customer.external_id:
        flash(_("Type the customer's ID exactly to confirm the erasure."), "error")
        return redirect(url_for(".privacy")), 303
    counts = erase_customer(customer)
    flash(_("The customer's data is erased: %(n)s records.", n=sum(counts.values())), "success")
    return redirect(url_for(".privacy")), 303

