"""Form helpers shared by the portal's apps."""


def add_service_errors(form, exc):
    """Put a service's ValidationError on the form: per field where it names one."""
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, exc.messages)
