"""The outbox's machinery: template syntax (templating), variables (variables), channel limits and
rendering (render), addresses (addresses, with the WeChat openid registry), quiet hours (quiet_hours),
set-based writes (bulk) and the backends that send (backends, sms).

The writes that use them are campaigns.services.messaging; read that first.
"""
