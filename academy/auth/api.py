from flask_smorest import Blueprint

blp = Blueprint("auth_api", __name__, description="Tokens, the caller, users and roles")
