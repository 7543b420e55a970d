"""Imports every area's models so the metadata (and Alembic) sees all tables."""
from callbacks import models as callbacks_models  # noqa: F401
from channels import models as channels_models  # noqa: F401
from complaints import models as complaints_models  # noqa: F401
from core import (  # noqa: F401
    accounts,
    events,  # noqa: F401
    settings,
)
from integrations import models as integrations_models  # noqa: F401
from reports import models as reports_models  # noqa: F401
from surveys import models as surveys_models  # noqa: F401
from tickets import models as tickets_models  # noqa: F401
