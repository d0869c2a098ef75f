"""Controllers for sign-in, the signed-in user, API tokens and user administration."""

from __future__ import annotations

from litestar import Controller, Request, Response, Router, delete, get, patch, post
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath, JSONBody

from backend import accounts
from backend.auth import ROTATE_FLAG, login_rate_limit
from backend.identity import ALL_ROLES, Principal, Role
from backend.schemas import (
    LoginIn,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from backend.settings import Settings

ADMIN_ONLY = frozenset({Role.ADMIN})


@post(
    "/login",
    opt={"exclude_from_auth": True},
    status_code=200,
    tags=["auth"],
    summary="Sign in with username and password; sets the session cookie",
)
async def login(request: Request, data: JSONBody[LoginIn]) -> UserOut:
    user_id = await accounts.authenticate(data.username, data.password)
    if user_id is None:
        raise NotAuthorizedException("Wrong username or password.")
    request.scope.setdefault("state", {})[ROTATE_FLAG] = True
    request.set_session({"user_id": user_id})
    return await accounts.get_user(user_id)


def login_router(settings: Settings) -> Router:
    """The sign-in route, rate-limited per client address as the app's own settings say."""
    return Router(
        path="/auth", route_handlers=[login], middleware=[login_rate_limit(settings).middleware]
    )


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post("/logout", opt={"roles": ALL_ROLES}, status_code=204, summary="Sign out")
    async def logout(self, request: Request) -> Response[None]:
        request.clear_session()
        return Response(None, status_code=204)


class MeController(Controller):
    path = "/me"
    tags = ["me"]
    opt = {"roles": ALL_ROLES}

    @get("/", summary="The signed-in user")
    async def me(self, request: Request[Principal, str, object]) -> UserOut:
        return await accounts.get_user(request.user.user_id)

    @get("/tokens", summary="My personal API tokens (never the tokens themselves)")
    async def tokens(self, request: Request[Principal, str, object]) -> list[TokenOut]:
        return await accounts.list_tokens(request.user.user_id)

    @post("/tokens", summary="Create a personal API token; shown once in the answer")
    async def create_token(
        self, request: Request[Principal, str, object], data: JSONBody[TokenCreate]
    ) -> TokenCreated:
        return await accounts.create_token(request.user.user_id, data.name)

    @delete("/tokens/{token_id:int}", status_code=200, summary="Revoke one of my API tokens")
    async def revoke_token(
        self, request: Request[Principal, str, object], token_id: FromPath[int]
    ) -> TokenOut:
        return await accounts.revoke_token(request.user.user_id, token_id)


class UserController(Controller):
    path = "/users"
    tags = ["users"]
    opt = {"roles": ADMIN_ONLY}

    @get("/", summary="All users")
    async def list_users(self) -> list[UserOut]:
        return await accounts.list_users()

    @post("/", summary="Create a user; centre staff are bound to their centres")
    async def create_user(self, data: JSONBody[UserCreate]) -> UserOut:
        return await accounts.create_user(data)

    @get("/{user_id:int}", summary="One user")
    async def get_user(self, user_id: FromPath[int]) -> UserOut:
        return await accounts.get_user(user_id)

    @patch("/{user_id:int}", summary="Change a user's role, centres, language, password or state")
    async def update_user(self, user_id: FromPath[int], data: JSONBody[UserUpdate]) -> UserOut:
        return await accounts.update_user(user_id, data)
