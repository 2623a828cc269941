"""`flask db upgrade` from empty must give exactly the schema the models describe."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from academy import create_app
from academy.extensions import db
from tests.dbutil import drop_database, fresh_database_url


@pytest.mark.no_db
def test_upgrade_from_empty_matches_the_models(tmp_path):
    url = fresh_database_url("migrations", tmp_path)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        assert differences == [], f"models and migrations differ: {differences}"
        # And the chain can be walked back down to nothing, then up again.
        downgrade(revision="base")
        upgrade()
        db.engine.dispose()
    drop_database(url)
