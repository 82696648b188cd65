"""Orders: the model, the checks before an order is accepted, the trigger books and the desk
that fills paper orders against the prices.

    model.py     OrderType (the one definition of the order types), OrderRequest, Order
    pretrade.py  what an exchange would refuse, refused in words before anything changes
    triggers.py  the books of stop, take-profit and trailing orders, by price source
    desk.py      AccountDesk: one account's orders, fills and brackets
"""
