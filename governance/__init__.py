"""The domain of 社区吹哨、部门报到: organisation directory, officers and roles, the whistle
register, consultations, task orders, deadlines, evaluations and standing mechanisms.

Plain SQLAlchemy models and functions; imports `engine` only, never `handlers` or Flask.
"""
