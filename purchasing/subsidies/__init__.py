"""Subsidy programmes: the FEDER grant that lowers the price of basic Mairie Connectée
services for the least-populated communes, its envelope, receipts and partner reversals."""
