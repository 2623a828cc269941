from flask_smorest import Blueprint

blp = Blueprint("organisations_api", __name__, description="Organisations")
