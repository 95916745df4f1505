__all__ = ['ttypes', 'constants', 'Nimbus']
