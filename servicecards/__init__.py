"""Service cards (次卡, 课时卡, period cards) and their use ledger, service staff, appointments and
service records, for salons, gyms and training centres. Stands on loyalty (a card is sold by a sale)."""
