from django.contrib import admin

from .models import Attachment, Picture

admin.site.register(Picture)
admin.site.register(Attachment)
