from django.db import migrations


class Migration(migrations.Migration):
    """`turns` meant four things; the API messages of one reply are now called that."""

    dependencies = [
        ("chat", "0007_reply_writer"),
    ]

    operations = [
        migrations.RenameField(model_name="message", old_name="turns", new_name="api_messages"),
    ]
