from django.contrib import admin

from .models import Attachment, Picture, Poster

admin.site.register(Picture)
admin.site.register(Attachment)
admin.site.register(Poster)
