import factory

from accounts import services
from accounts.models import Role, TokenScope, User

DEFAULT_PASSWORD = "correct-horse-battery-staple-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password(DEFAULT_PASSWORD)

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        if create and extracted:
            services.role_set(user=obj, role=extracted)


def make_token(user, *, scope=TokenScope.READ, name="test", expires_days=30):
    """Return (ApiToken, plaintext) through the real service."""
    return services.token_create(user=user, name=name, scope=scope, expires_days=expires_days)


__all__ = ["DEFAULT_PASSWORD", "Role", "UserFactory", "make_token"]
